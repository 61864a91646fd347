// SPEC §14. STUB: filled by its helper.
export function SecretsSection() {
  return null;
}
