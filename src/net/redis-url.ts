/**
 * A sentinel or cluster URL lists several hosts (h1:26379,h2:26379), which
 * the WHATWG URL parser refuses: this keeps the first host so that the scheme,
 * credentials and path can be parsed; parseHosts reads the list.
 */
export function singleHostUrl (text: string): string {
  return text.replace(/^([a-z+]+:\/\/(?:[^@/]*@)?)([^,/]*)(?:,[^/]*)?/i, '$1$2')
}
