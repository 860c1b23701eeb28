// Placeholder until the page lands.
export function SignInPage() {
  return null;
}
