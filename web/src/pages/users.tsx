// Placeholder until the page lands.
export function UsersPage() {
  return null;
}
