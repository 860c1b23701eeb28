// An agent's own metrics (its host and VMs) in Prometheus' text format, for `labvirt agent`'s
// metrics listener.
import type { HostAgent } from './host-agent.js';

export interface AgentMetrics {
  readonly contentType: string;
  /** The current metrics, read from the agent now. */
  render(): Promise<string>;
}

export function agentMetrics(_agent: HostAgent): AgentMetrics {
  // See /work/notes/issue8-contracts.md §5.
  return { contentType: 'text/plain; version=0.0.4; charset=utf-8', render: async () => '' };
}
