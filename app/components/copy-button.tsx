import { useEffect, useRef, useState } from "react";

type CopyState = "idle" | "copied" | "manual";

/**
 * Copies `value` to the clipboard and says so ("Copied"). The Clipboard API needs a secure
 * context (https or localhost); elsewhere the older copy command is tried, and if that fails
 * too the value is selected on the page for the user to copy by hand.
 */
export function CopyButton({
  value,
  label,
  selectTarget,
}: {
  value: string;
  /** What is copied, for screen readers: "Copy the token". */
  label: string;
  /** The element showing the value, selected when copying is not allowed. */
  selectTarget?: React.RefObject<HTMLElement | null>;
}) {
  const [state, setState] = useState<CopyState>("idle");
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);

  async function copy() {
    const copied = (await writeWithClipboardApi(value)) || writeWithCopyCommand(value);
    if (!copied && selectTarget?.current) selectContents(selectTarget.current);
    setState(copied ? "copied" : "manual");
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setState("idle"), 4_000);
  }

  return (
    <>
      <button
        type="button"
        className="copy-button"
        onClick={() => void copy()}
        aria-label={label}
        data-copied={state === "copied"}
      >
        {state === "copied" ? "Copied" : "Copy"}
      </button>
      <span role="status" className={state === "manual" ? "hint" : "visually-hidden"}>
        {state === "copied"
          ? "Copied to the clipboard."
          : state === "manual"
            ? "This browser did not allow copying: it is selected, press Ctrl+C (⌘C)."
            : ""}
      </span>
    </>
  );
}

async function writeWithClipboardApi(value: string): Promise<boolean> {
  if (!window.isSecureContext || !navigator.clipboard) return false;
  try {
    await navigator.clipboard.writeText(value);
    return true;
  } catch {
    return false; // refused (permissions, no focus): try the older way
  }
}

function writeWithCopyCommand(value: string): boolean {
  const area = document.createElement("textarea");
  area.value = value;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  try {
    // Deprecated, but the one way left outside a secure context.
    return document.execCommand("copy");
  } catch {
    return false;
  } finally {
    area.remove();
  }
}

function selectContents(element: HTMLElement) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection?.removeAllRanges();
  selection?.addRange(range);
}
