import { once } from "node:events";
import { connect, type Socket } from "node:net";

/**
 * Sends `GET path` twice on one TCP connection, `pauseMilliseconds` apart, as a client that
 * keeps its idle connection longer than the server's hint would (a proxy, a stalled undici).
 * Each answer's head, or null when the server had closed the connection instead.
 */
export async function getTwiceOnOneConnection(
  port: number,
  path: string,
  pauseMilliseconds: number,
): Promise<[string | null, string | null]> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.on("error", () => {});
  try {
    const first = await askOnce(socket, path);
    await new Promise((resolve) => setTimeout(resolve, pauseMilliseconds));
    return [first, await askOnce(socket, path)];
  } finally {
    socket.destroy();
  }
}

function askOnce(socket: Socket, path: string): Promise<string | null> {
  if (socket.destroyed || socket.readyState !== "open") return Promise.resolve(null);
  return new Promise((resolve) => {
    let received = "";
    const onData = (chunk: Buffer) => {
      received += String(chunk);
      const end = received.indexOf("\r\n\r\n");
      if (end >= 0) finish(received.slice(0, end));
    };
    const finish = (head: string | null) => {
      socket.off("data", onData);
      socket.off("close", onClose);
      resolve(head);
    };
    const onClose = () => finish(null);
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}
