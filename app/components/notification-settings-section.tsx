// SPEC §14. STUB: filled by its helper.
export function NotificationSettingsSection() {
  return null;
}
