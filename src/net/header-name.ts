/**
 * Upstreams that sit behind CGI, PHP, WSGI and many frameworks read
 * `X_Gatehouse_User` and `X-Gatehouse-User` as the same variable, so names are
 * compared after folding case and `_` to `-`.
 */
export function foldHeaderName (name: string): string {
  return name.toLowerCase().replaceAll('_', '-')
}
