import GithubSlugger from 'github-slugger'

/** A line of a Markdown file outside fenced code blocks, with its 1-based number. */
export interface ProseLine { line: number, text: string }

/** The lines outside ``` fences: headings and links are only there. */
export function proseLines (markdown: string): ProseLine[] {
  const out: ProseLine[] = []
  let fenced = false
  markdown.split('\n').forEach((text, i) => {
    if (text.startsWith('```')) fenced = !fenced
    else if (!fenced) out.push({ line: i + 1, text })
  })
  return out
}

/** Inline code replaced by a word, so that brackets inside it are not links. */
const withoutCode = (text: string): string => text.replace(/`+[^`]*`+/g, 'code')

/** Every `[text](target)` and `![alt](target)` of the file, with where it is. */
export function links (markdown: string): Array<{ line: number, target: string }> {
  const out: Array<{ line: number, target: string }> = []
  for (const { line, text } of proseLines(markdown)) {
    for (const m of withoutCode(text).matchAll(/\]\(([^)\s]+)\)/g)) out.push({ line, target: m[1] as string })
  }
  return out
}

/**
 * The anchors GitHub gives the file's headings: the heading's text as
 * rendered (code, emphasis and link syntax gone), slugged by github-slugger,
 * which numbers repeated headings as GitHub does.
 */
export function anchors (markdown: string): Set<string> {
  const slugger = new GithubSlugger()
  const out = new Set<string>()
  for (const { text } of proseLines(markdown)) {
    const heading = /^#{1,6} (.*?)#*\s*$/.exec(text)
    if (heading === null) continue
    const rendered = (heading[1] as string)
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/`([^`]*)`/g, '$1')
      .replace(/(\*\*|__|\*)/g, '')
    out.add(slugger.slug(rendered))
  }
  return out
}

/** The fenced block right after a line of the file, and that line's number. */
export function blockAfter (markdown: string, marker: string): { line: number, body: string } | undefined {
  const lines = markdown.split('\n')
  const at = lines.findIndex(l => l.trim() === marker)
  if (at === -1) return undefined
  const open = lines.findIndex((l, i) => i > at && l.startsWith('```'))
  const close = lines.findIndex((l, i) => i > open && l.startsWith('```'))
  if (open !== at + 1 || close === -1) return undefined
  return { line: at + 1, body: lines.slice(open + 1, close).join('\n') }
}
