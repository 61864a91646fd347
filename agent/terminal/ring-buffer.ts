// The latest output of a terminal session, replayed when a browser re-attaches. Storage
// grows with use up to its capacity, so an idle or short-lived session does not hold the
// whole capacity in memory.

export const defaultScrollbackBytes = 256 * 1024;

const initialBytes = 4 * 1024;

export interface RingBuffer {
  /** Appends bytes, dropping the oldest ones beyond the capacity. */
  write(chunk: Uint8Array): void;
  /** A copy of the stored bytes, oldest first. */
  read(): Buffer;
  readonly size: number;
  readonly capacity: number;
}

export function createRingBuffer(capacity = defaultScrollbackBytes): RingBuffer {
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new RangeError(`A ring buffer needs a positive integer capacity, not ${capacity}.`);
  let storage = Buffer.alloc(Math.min(capacity, initialBytes));
  let start = 0;
  let size = 0;
  let dropped = false;

  const grow = (needed: number) => {
    const next = Buffer.alloc(Math.min(capacity, Math.max(needed, storage.length * 2)));
    copyInOrder(storage, start, size, next);
    storage = next;
    start = 0;
  };

  return {
    write(chunk) {
      if (chunk.length >= capacity) {
        if (storage.length < capacity) storage = Buffer.alloc(capacity);
        storage.set(chunk.subarray(chunk.length - capacity));
        dropped ||= size > 0 || chunk.length > capacity;
        start = 0;
        size = capacity;
        return;
      }
      if (size + chunk.length > storage.length && storage.length < capacity)
        grow(size + chunk.length);
      const end = (start + size) % storage.length;
      const head = Math.min(chunk.length, storage.length - end);
      storage.set(chunk.subarray(0, head), end);
      storage.set(chunk.subarray(head), 0);
      const overflow = size + chunk.length - storage.length;
      if (overflow > 0) {
        dropped = true;
        start = (start + overflow) % storage.length;
        size = storage.length;
      } else size += chunk.length;
    },
    read() {
      const out = Buffer.alloc(size);
      copyInOrder(storage, start, size, out);
      // Cutting the oldest bytes may split a UTF-8 character; the browser would show its
      // tail as replacement characters.
      return dropped ? out.subarray(countContinuationBytes(out)) : out;
    },
    get size() {
      return size;
    },
    capacity,
  };
}

function copyInOrder(source: Buffer, start: number, size: number, target: Buffer) {
  const head = Math.min(size, source.length - start);
  source.copy(target, 0, start, start + head);
  source.copy(target, head, 0, size - head);
}

function countContinuationBytes(bytes: Buffer): number {
  let count = 0;
  while (count < 3 && count < bytes.length && (bytes[count]! & 0xc0) === 0x80) count++;
  return count;
}
