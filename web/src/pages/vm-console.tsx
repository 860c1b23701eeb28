// Placeholder until the page lands (web-pages helper).
export function VmConsolePage() {
  return null;
}
