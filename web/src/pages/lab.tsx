// Placeholder until the page lands.
export function LabPage() {
  return null;
}
