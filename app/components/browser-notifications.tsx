import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { notificationTitleOf } from "../lib/session-status.ts";
import { useTRPC } from "../lib/trpc.ts";
import { useCurrentUser } from "../lib/use-current-user.ts";

/** Mounted once in the root: for signed-in users, new notifications pop up in the browser. */
export function BrowserNotifications() {
  const user = useCurrentUser();
  return user ? <NotificationPoller /> : null;
}

/**
 * SPEC §14: asks for notifications newer than the newest seen every 5 s and shows each as a
 * browser notification once the user allowed them. The first answer only sets where "new"
 * starts: opening the app must not replay what happened before.
 */
function NotificationPoller() {
  const trpc = useTRPC();
  const [newestSeen, setNewestSeen] = useState<number | null>(null);
  const notifications = useQuery({
    ...trpc.notifications.list.queryOptions(newestSeen === null ? {} : { afterId: newestSeen }),
    refetchInterval: 5_000,
    // The tab in the background is the point: the user walked away from the agent.
    refetchIntervalInBackground: true,
    staleTime: 0,
  });
  const { data } = notifications;

  useEffect(() => {
    if (!data) return;
    // Newest first; the first answer lists old ones, which only set the starting point.
    const newest = data[0]?.id ?? newestSeen ?? 0;
    if (newestSeen !== null && canNotify())
      for (const notification of [...data].reverse())
        if (notification.id > newestSeen)
          new Notification(notificationTitleOf(notification), {
            body: notification.message,
            tag: String(notification.id),
          });
    if (newest !== newestSeen) setNewestSeen(newest);
  }, [data, newestSeen]);
  return null;
}

const canNotify = () =>
  typeof Notification !== "undefined" && Notification.permission === "granted";

type Permission = NotificationPermission | "unsupported";

const permissionWords: Record<Permission, string> = {
  default: "not asked yet",
  granted: "allowed",
  denied: "blocked (allow them in the browser's site settings)",
  unsupported: "not available in this browser",
};

/** Settings: the browser's permission for notifications, and the button that asks for it. */
export function BrowserNotificationPermission() {
  // Read after hydration: the server has no Notification.
  const [permission, setPermission] = useState<Permission | null>(null);
  useEffect(() => {
    setPermission(typeof Notification === "undefined" ? "unsupported" : Notification.permission);
  }, []);

  async function ask() {
    // Browsers allow the question only from a click, which this is.
    setPermission(await Notification.requestPermission());
  }

  return (
    <div className="inline-form">
      <button type="button" onClick={() => void ask()} disabled={permission !== "default"}>
        Enable browser notifications
      </button>
      <span data-testid="notification-permission" data-permission={permission ?? undefined}>
        Browser notifications: {permission ? permissionWords[permission] : "…"}
      </span>
    </div>
  );
}
