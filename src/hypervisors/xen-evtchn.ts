// The domain's event-channel table (spec digest §5.4; Xen common/event_channel.c): which port is
// bound to what. Pending/mask bits live in shared_info (xen-shared-info.ts); this file only
// allocates, binds, closes and describes ports. Port 0 is reserved; new ports take the lowest
// free number, as Xen's get_free_port does.

import {
  EVTCHNSTAT_closed, EVTCHNSTAT_interdomain, EVTCHNSTAT_ipi, EVTCHNSTAT_unbound, EVTCHNSTAT_virq,
  NR_VIRQS, VIRQS_PER_VCPU, XEN_EEXIST, XEN_EINVAL, XEN_ENOENT, XEN_ENOSPC,
} from './xen-abi.js';

export type EventChannel =
  | { state: 'unbound'; remoteDom: number; vcpu: number }
  | { state: 'interdomain'; remoteDom: number; remotePort: number; vcpu: number }
  | { state: 'virq'; virq: number; vcpu: number }
  | { state: 'ipi'; vcpu: number };

/** What EVTCHNOP_status reports (struct evtchn_status OUT fields). */
export interface EventChannelStatus {
  status: number;
  vcpu: number;
  /** u.unbound.dom / u.interdomain.dom */
  dom: number;
  /** u.interdomain.port, or u.virq */
  portOrVirq: number;
}

export class XenEventChannels {
  private readonly ports = new Map<number, EventChannel>();
  /** Per vCPU, VIRQ -> port (Xen's v->virq_to_evtchn). */
  private readonly virqPorts: Map<number, number>[];

  constructor(private readonly vcpus: number, public maxPorts = 4096) {
    this.virqPorts = Array.from({ length: vcpus }, () => new Map<number, number>());
  }

  get(port: number): EventChannel | undefined {
    return this.ports.get(port);
  }

  /** _evtchn_from_port: a port number the domain can name (0 is reserved but nameable). */
  valid(port: number): boolean {
    return Number.isInteger(port) && port >= 0 && port < this.maxPorts;
  }

  private freePort(): number {
    for (let p = 1; p < this.maxPorts; p++) if (!this.ports.has(p)) return p;
    return -XEN_ENOSPC;
  }

  /** A channel the toolstack set up before boot (the xenstore ring's). */
  preBind(ch: EventChannel): number {
    const p = this.freePort();
    if (p > 0) this.ports.set(p, ch);
    return p;
  }

  /** EVTCHNOP_alloc_unbound: a new port waiting for `remoteDom` (our own id for DOMID_SELF). */
  allocUnbound(remoteDom: number): number {
    const p = this.freePort();
    if (p > 0) this.ports.set(p, { state: 'unbound', remoteDom, vcpu: 0 });
    return p;
  }

  /** EVTCHNOP_bind_virq: -EINVAL for a bad VIRQ or a global one off vCPU 0, -ENOENT bad vCPU, -EEXIST bound. */
  bindVirq(virq: number, vcpu: number): number {
    if (!Number.isInteger(virq) || virq < 0 || virq >= NR_VIRQS) return -XEN_EINVAL;
    if (!VIRQS_PER_VCPU.includes(virq) && vcpu !== 0) return -XEN_EINVAL;
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= this.vcpus) return -XEN_ENOENT;
    if (this.virqPorts[vcpu].has(virq)) return -XEN_EEXIST;
    const p = this.freePort();
    if (p < 0) return p;
    this.ports.set(p, { state: 'virq', virq, vcpu });
    this.virqPorts[vcpu].set(virq, p);
    return p;
  }

  /** EVTCHNOP_bind_ipi: -ENOENT for a bad vCPU. */
  bindIpi(vcpu: number): number {
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= this.vcpus) return -XEN_ENOENT;
    const p = this.freePort();
    if (p > 0) this.ports.set(p, { state: 'ipi', vcpu });
    return p;
  }

  /** The port bound to a VIRQ on a vCPU, if any. */
  virqPort(vcpu: number, virq: number): number | undefined {
    return this.virqPorts[vcpu]?.get(virq);
  }

  /** EVTCHNOP_close: -EINVAL for a free, reserved or unnameable port. */
  close(port: number): number {
    const ch = this.valid(port) ? this.ports.get(port) : undefined;
    if (ch === undefined) return -XEN_EINVAL;
    if (ch.state === 'virq') this.virqPorts[ch.vcpu].delete(ch.virq);
    this.ports.delete(port);
    return 0;
  }

  /** EVTCHNOP_status for our own domain's port, or -EINVAL for an unnameable one. */
  status(port: number): EventChannelStatus | number {
    if (!this.valid(port)) return -XEN_EINVAL;
    const ch = this.ports.get(port);
    if (ch === undefined) return { status: EVTCHNSTAT_closed, vcpu: 0, dom: 0, portOrVirq: 0 };
    switch (ch.state) {
      case 'unbound': return { status: EVTCHNSTAT_unbound, vcpu: ch.vcpu, dom: ch.remoteDom, portOrVirq: 0 };
      case 'interdomain': return { status: EVTCHNSTAT_interdomain, vcpu: ch.vcpu, dom: ch.remoteDom, portOrVirq: ch.remotePort };
      case 'virq': return { status: EVTCHNSTAT_virq, vcpu: ch.vcpu, dom: 0, portOrVirq: ch.virq };
      case 'ipi': return { status: EVTCHNSTAT_ipi, vcpu: ch.vcpu, dom: 0, portOrVirq: 0 };
    }
  }
}
