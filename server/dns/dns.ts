// The DNS interface of SPEC §8: one record per workspace, `ws-{id}.{BASE_DOMAIN}`.

export type DnsRecordInput = {
  /** The first label, `ws-{workspace id}`. */
  name: string;
  ipv4: string;
  /** Only in the one-machine mode: the agent's loopback port, part of the local host name. */
  port?: number;
};

export interface DnsProvider {
  /** Creates or updates the record; resolves with the host name it answers to. */
  upsertRecord(input: DnsRecordInput): Promise<{ hostname: string }>;
  /** Removes the record; a record that is already gone is not an error. */
  deleteRecord(name: string): Promise<void>;
}
