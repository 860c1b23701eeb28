// Placeholder until the page lands.
export function LabsPage() {
  return null;
}
