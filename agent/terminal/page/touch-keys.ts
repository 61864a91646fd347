import type { Terminal } from "@xterm/xterm";

// Esc, Tab, a sticky Ctrl and the arrows, for touch keyboards that have none of them (shown
// on narrow or coarse-pointer screens by terminal-page.css). The keys go through the same
// input path as typing, so they are refused alike while disconnected.

const arrows = { up: "A", down: "B", right: "C", left: "D" } as const;

export type TouchKeys = {
  /** Typed text as it should be sent: with Ctrl held, its first character becomes a control. */
  apply: (data: string) => string;
};

export function attachTouchKeys(
  bar: HTMLElement,
  term: Terminal,
  send: (data: string) => void,
): TouchKeys {
  const ctrl = bar.querySelector<HTMLButtonElement>('[data-key="ctrl"]');
  let ctrlHeld = false;
  const holdCtrl = (held: boolean) => {
    ctrlHeld = held;
    ctrl?.setAttribute("aria-pressed", String(held));
  };
  // Keep the focus (and the on-screen keyboard) in the terminal when a key is tapped.
  bar.addEventListener("pointerdown", (event) => event.preventDefault());
  bar.addEventListener("click", (event) => {
    const key = (event.target as HTMLElement).closest<HTMLElement>("[data-key]")?.dataset.key;
    if (!key) return;
    term.focus();
    if (key === "ctrl") return holdCtrl(!ctrlHeld);
    const sequence = sequenceOf(key, ctrlHeld, term.modes.applicationCursorKeysMode);
    holdCtrl(false);
    if (sequence) send(sequence);
  });
  return {
    apply(data) {
      if (!ctrlHeld || data.length === 0) return data;
      holdCtrl(false);
      return controlOf(data[0]!) + data.slice(1);
    },
  };
}

function sequenceOf(key: string, ctrl: boolean, applicationCursor: boolean): string | null {
  if (key === "escape") return "\x1b";
  if (key === "tab") return "\t";
  const final = arrows[key as keyof typeof arrows];
  if (!final) return null;
  if (ctrl) return `\x1b[1;5${final}`;
  return applicationCursor ? `\x1bO${final}` : `\x1b[${final}`;
}

/** Ctrl with a character, as a keyboard's Ctrl sends it: Ctrl-C is \x03, Ctrl-[ is Esc. */
function controlOf(char: string): string {
  const code = char.toUpperCase().charCodeAt(0);
  if (code >= 0x40 && code <= 0x5f) return String.fromCharCode(code - 0x40);
  if (char === " ") return "\x00";
  if (char === "?") return "\x7f";
  return char;
}
