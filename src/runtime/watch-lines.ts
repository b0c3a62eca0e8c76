// A watch stream is newline-delimited JSON that arrives in arbitrary chunks: this joins the pieces
// of each line. Only each new chunk is scanned for a newline, so a 1.5 MB object arriving in small
// chunks costs linear time, not a rescan of everything buffered per chunk.
export class LineSplitter {
  private pieces: string[] = [];

  /** The lines this chunk completes, blank ones left out; the unfinished rest is kept for the next chunk. */
  push(text: string): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const line = this.take(text.slice(start, nl));
      start = nl + 1;
      if (line.trim()) lines.push(line);
    }
    if (start < text.length) this.pieces.push(text.slice(start));
    return lines;
  }

  private take(last: string): string {
    if (this.pieces.length === 0) return last;
    this.pieces.push(last);
    const line = this.pieces.join('');
    this.pieces = [];
    return line;
  }
}
