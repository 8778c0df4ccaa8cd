/**
 * Streams text pieces so that their concatenation is the trimmed answer (what `RagPipeline.ask`
 * returns): leading whitespace is dropped and trailing whitespace is held until more text follows.
 */
export class TrimmedStream {
  private started = false;
  private pending = '';

  /** The part of `piece` that can be sent now ('' when nothing yet). */
  push(piece: string): string {
    const text = this.started ? piece : piece.trimStart();
    if (text === '') return '';
    this.started = true;
    const combined = this.pending + text;
    const tail = /\s*$/.exec(combined)![0];
    this.pending = tail;
    return combined.slice(0, combined.length - tail.length);
  }
}
