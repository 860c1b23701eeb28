// Placeholder until the page lands (web-pages helper).
export function ProfilePage() {
  return null;
}
