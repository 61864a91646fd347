import { useEffect, useId, useRef, useState, type ReactNode } from "react";

/**
 * A modal question before something that cannot be undone (a native <dialog>: focus is kept
 * inside, Esc cancels, the page behind is inert). With `typeToConfirm`, the confirm button
 * stays disabled until that exact text is typed, and the dialog says why. showModal() focuses
 * the first control: the name field, or Cancel (the safe answer) when there is none.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  typeToConfirm,
  pending = false,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  /** What happens, in words. */
  children: ReactNode;
  confirmLabel: string;
  /** The name the user must type, e.g. the workspace's. */
  typeToConfirm?: string;
  pending?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const ids = useId();
  const [typed, setTyped] = useState("");
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) element.showModal();
    else if (!open && element.open) {
      element.close();
      // Cleared as it closes, so the next opening starts empty from its first frame.
      setTyped("");
    }
  }, [open]);

  const matches = typeToConfirm === undefined || typed === typeToConfirm;
  return (
    <dialog
      ref={dialog}
      className="confirm-dialog"
      aria-labelledby={`${ids}-title`}
      aria-describedby={`${ids}-body`}
      // Esc, or the browser closing it: the same as Cancel.
      onCancel={(event) => {
        event.preventDefault();
        onCancel();
      }}
      data-testid="confirm-dialog"
    >
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          if (matches && !pending) onConfirm();
        }}
      >
        <h2 id={`${ids}-title`}>{title}</h2>
        <div id={`${ids}-body`}>{children}</div>
        {typeToConfirm === undefined ? null : (
          <TypeToConfirm
            id={ids}
            expected={typeToConfirm}
            typed={typed}
            onType={setTyped}
            confirmLabel={confirmLabel}
          />
        )}
        <div className="actions">
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
          <button
            type="submit"
            className="danger"
            disabled={!matches || pending}
            aria-describedby={matches ? undefined : `${ids}-why`}
          >
            {pending ? "Working…" : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

function TypeToConfirm({
  id,
  expected,
  typed,
  onType,
  confirmLabel,
}: {
  id: string;
  expected: string;
  typed: string;
  onType: (value: string) => void;
  confirmLabel: string;
}) {
  const why =
    typed === ""
      ? `${confirmLabel} stays disabled until you type the name.`
      : typed === expected
        ? ""
        : `That is not the name: type ${expected} exactly (it is case-sensitive).`;
  return (
    <>
      <label>
        <span>
          Type <strong>{expected}</strong> to confirm
        </span>
        <input
          value={typed}
          onChange={(event) => onType(event.target.value)}
          autoComplete="off"
          spellCheck={false}
          data-testid="confirm-input"
        />
      </label>
      <p id={`${id}-why`} className="hint" aria-live="polite" data-testid="confirm-why">
        {why}
      </p>
    </>
  );
}
