import { EventEmitter } from 'node:events';
import { modelDigest } from '../../core/models/model-digest';
import type { ReceiptKey } from '../store/server-store';

/**
 * What the server's worker API and its queued synthesis stage share in one process: the generator
 * the images must come from (its digest), the base seed, and an event per image a worker
 * returned, so the stage waiting for a round sees it at once.
 */
export class RemoteSynthesis {
  private readonly events = new EventEmitter();
  private digest: Promise<string> | null = null;

  constructor(
    private readonly o: {
      /** The server's generator folder: the reference every worker's must match. */
      generatorDir: string;
      baseSeed: number;
    },
  ) {
    this.events.setMaxListeners(0);
  }

  get baseSeed(): number {
    return this.o.baseSeed;
  }

  modelDigest(): Promise<string> {
    this.digest ??= modelDigest(this.o.generatorDir, 'generator');
    return this.digest;
  }

  /** Called after an image's files are durable (stored now or found already stored). */
  imageStored(key: ReceiptKey): void {
    this.events.emit('stored', key);
  }

  onImageStored(listener: (key: ReceiptKey) => void): () => void {
    this.events.on('stored', listener);
    return () => this.events.off('stored', listener);
  }
}
