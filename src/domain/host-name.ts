// A DNS host name (RFC 1123 labels, 253 characters at most): what --listen, --gateway-address
// and a terminal's config accept besides an IP address.
const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export function isHostName(text: string): boolean {
  return HOST_NAME.test(text);
}
