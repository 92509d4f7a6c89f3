/** a one-shot signal between concurrent transactions in a test: one side fires, the other awaits */
export function signal(): { fire: () => void; fired: Promise<void> } {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { fire, fired };
}
