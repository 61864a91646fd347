/** The message of a failed query or mutation, announced to screen readers; nothing when all is well. */
export function ErrorAlert({ error }: { error: { message: string } | null }) {
  if (!error) return null;
  return (
    <p role="alert" className="bad">
      {error.message}
    </p>
  );
}
