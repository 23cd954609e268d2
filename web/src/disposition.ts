/**
 * The name to save a downloaded file under, from the server's `Content-Disposition` (RFC 6266). Its own
 * module, with no imports, so that the tests read it as the console does.
 */
/** The file name a `Content-Disposition` header gives (RFC 6266: `filename*` in UTF-8 first), or null. */
export function dispositionName(header: string | null): string | null {
  if (!header) return null;
  let name = '';
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (star)
    try {
      name = decodeURIComponent(star[1]!.trim());
    } catch {
      // a malformed escape: the plain name below
    }
  if (!name) {
    const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]+))/i.exec(header);
    if (plain) name = plain[1]?.replace(/\\(.)/g, '$1') ?? plain[2]!.trim();
  }
  // only a base name: never a path the browser would have to clean up
  return name.replace(/[/\\]/g, '_') || null;
}
