// A view built from exactly one row: the single element, checked rather than asserted.

export function onlyOne<T>(items: readonly T[]): T {
  const [item] = items;
  if (item === undefined || items.length !== 1)
    throw new Error(`expected one item, got ${items.length}`);
  return item;
}
