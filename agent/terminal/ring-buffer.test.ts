import { describe, expect, it } from "vitest";
import { createRingBuffer } from "./ring-buffer.ts";

const bytes = (text: string) => Buffer.from(text, "utf8");

describe("createRingBuffer", () => {
  it("keeps everything while under capacity, across growth", () => {
    const ring = createRingBuffer(64 * 1024);
    const chunks = Array.from({ length: 100 }, (_, i) => bytes(`line ${i}\n`.repeat(50)));
    for (const chunk of chunks) ring.write(chunk);
    expect(ring.read().equals(Buffer.concat(chunks))).toBe(true);
    expect(ring.size).toBe(Buffer.concat(chunks).length);
  });

  it("keeps only the latest bytes once full, wrapping around", () => {
    const ring = createRingBuffer(10);
    ring.write(bytes("abcdef"));
    ring.write(bytes("ghij"));
    ring.write(bytes("klm"));
    expect(ring.read().toString()).toBe("defghijklm");
    ring.write(bytes("nopqrstu"));
    expect(ring.read().toString()).toBe("lmnopqrstu");
    expect(ring.size).toBe(10);
  });

  it("keeps the tail of a chunk larger than the capacity", () => {
    const ring = createRingBuffer(4);
    ring.write(bytes("xy"));
    ring.write(bytes("0123456789"));
    expect(ring.read().toString()).toBe("6789");
  });

  it("does not start a replay inside a UTF-8 character", () => {
    const ring = createRingBuffer(6);
    ring.write(bytes("€€bc")); // € is three bytes, so two of the first one are dropped
    expect(ring.read().toString()).toBe("€bc");
    const exact = createRingBuffer(5);
    exact.write(bytes("€bc"));
    expect(exact.read().toString()).toBe("€bc");
  });

  it("refuses a capacity that is not a positive integer", () => {
    expect(() => createRingBuffer(0)).toThrow(/positive integer/);
  });
});
