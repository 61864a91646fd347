import type { MetaFunction } from "@remix-run/node";
import { ApiTokensSection } from "../components/api-tokens-section.tsx";
import { DeleteAccountSection } from "../components/delete-account-section.tsx";
import { HetznerTokenSection } from "../components/hetzner-token-section.tsx";
import { NotificationSettingsSection } from "../components/notification-settings-section.tsx";
import { SecretsSection } from "../components/secrets-section.tsx";
import { SessionsSection } from "../components/sessions-section.tsx";
import { SignedInPage } from "../components/signed-in-page.tsx";

export const meta: MetaFunction = () => [{ title: "Settings · Cloud AI Workspaces" }];

export default function Settings() {
  return (
    <SignedInPage what="manage your settings">
      {(user) => (
        <>
          <h1>Settings</h1>
          <HetznerTokenSection />
          <SecretsSection />
          <NotificationSettingsSection />
          <ApiTokensSection />
          <SessionsSection />
          <DeleteAccountSection login={user.login} />
        </>
      )}
    </SignedInPage>
  );
}
