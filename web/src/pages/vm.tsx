// Placeholder until the page lands (web-pages helper).
export function VmPage() {
  return null;
}
