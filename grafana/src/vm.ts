// VM: one guest in detail — power state, placement, CPU and vCPU runstates, memory as the hypervisor and the guest
// see it, disks per device, network per VIF, and the guest agent's heartbeat.
import { BLUE, GREEN, RED, YELLOW, steps, valueMap } from '../lib/panels.js';
import { type BuiltDashboard, UID, VM, dashboard, datasourceVar, hostVar, poolVar, toHost, vmTagVar, vmVar } from './common.js';
import { usageSteps } from './pools.js';

const RATE = '$__rate_interval';
// The agent rewrites its memory report about every 120 s; the alert fires after 600 s.
const heartbeatSteps = steps(GREEN, [300, YELLOW], [600, RED]);

export function vmDashboard(): BuiltDashboard {
  return dashboard({
    file: 'xcp-vm.json',
    uid: UID.vm,
    title: 'xcp-sentinel / VM',
    description: 'One guest VM: state, placement, CPU and runstates, memory, disks, network and guest heartbeat.',
    tags: ['vm'],
    variables: [datasourceVar, poolVar, hostVar({ multi: true }), vmTagVar, vmVar],
    rows: [
      {
        title: 'State',
        panels: [
          {
            kind: 'stat',
            title: 'Power state',
            description: "The VM's power state in XAPI (Running, Halted, Paused, Suspended).",
            w: 4,
            h: 4,
            targets: [{ expr: `xcp_vm_status{${VM}}`, legend: '{{power_state}}' }],
            textMode: 'name',
            thresholds: steps(BLUE),
          },
          {
            kind: 'stat',
            title: 'Resident on',
            description: 'The host running the VM (empty when halted). Click for the host dashboard.',
            w: 4,
            h: 4,
            targets: [{ expr: `xcp_vm_info{${VM}}`, legend: '{{host_name}}' }],
            textMode: 'name',
            thresholds: steps(BLUE),
            links: [toHost],
          },
          {
            kind: 'stat',
            title: 'Host live',
            description:
              'Whether the host the VM runs on is live in the master\'s view. "Dead" means the VM is down with its host until it is restarted elsewhere.',
            w: 3,
            h: 4,
            targets: [{ expr: `xcp_vm_resident_host_live{${VM}}` }],
            mappings: valueMap({ '1': ['Live', GREEN], '0': ['Dead', RED] }),
            thresholds: steps(RED, [1, GREEN]),
          },
          {
            kind: 'stat',
            title: 'Uptime',
            description: 'Time since the VM started (VM_metrics.start_time).',
            w: 3,
            h: 4,
            targets: [{ expr: `xcp_vm_uptime_seconds{${VM}}` }],
            unit: 'dtdurations',
            thresholds: steps(BLUE),
            colorMode: 'value',
          },
          {
            kind: 'stat',
            title: 'Guest heartbeat',
            description:
              "Seconds since the guest agent's memory report (rrdd memory_internal_free, rewritten about every 2 minutes by a live agent) last changed. A hung guest stops changing it while XAPI still says Running.",
            w: 3,
            h: 4,
            targets: [{ expr: `xcp_vm_guest_memory_report_age_seconds{${VM}}` }],
            unit: 's',
            decimals: 0,
            thresholds: heartbeatSteps,
          },
          {
            kind: 'stat',
            title: 'vCPUs',
            description: 'Virtual CPUs the VM runs with (one RRD series per vCPU).',
            w: 3,
            h: 4,
            targets: [{ expr: `count(xcp_vm_cpu_core_usage{${VM}})` }],
            thresholds: steps(BLUE),
            colorMode: 'value',
          },
          {
            kind: 'stat',
            title: 'HA restart priority',
            description: 'What pool HA does with this VM when its host fails: restart, best-effort, or nothing (none).',
            w: 4,
            h: 4,
            targets: [{ expr: `xcp_vm_info{${VM}}`, legend: '{{ha_restart_priority}}' }],
            textMode: 'name',
            thresholds: steps(BLUE),
          },
        ],
      },
      {
        title: 'CPU',
        panels: [
          {
            kind: 'timeseries',
            title: 'CPU usage',
            description: 'Usage of all vCPUs together (ratio) and of each vCPU.',
            w: 12,
            h: 8,
            targets: [
              { expr: `xcp_vm_cpu_usage{${VM}}`, legend: 'all vCPUs' },
              { expr: `xcp_vm_cpu_core_usage{${VM}}`, legend: 'vCPU {{core}}' },
            ],
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds: usageSteps,
            legendCalcs: ['mean', 'max'],
          },
          {
            kind: 'timeseries',
            title: 'vCPU runstates',
            description:
              'Share of time in each Xen runstate: fullrun (all vCPUs running), partial run, blocked (idle), and contention (runnable but waiting for a physical CPU: the host is overcommitted).',
            w: 12,
            h: 8,
            targets: [
              { expr: `xcp_vm_runstate_fullrun{${VM}}`, legend: 'full run' },
              { expr: `xcp_vm_runstate_partial_run{${VM}}`, legend: 'partial run' },
              { expr: `xcp_vm_runstate_blocked{${VM}}`, legend: 'blocked' },
              { expr: `xcp_vm_runstate_full_contention{${VM}}`, legend: 'full contention' },
              { expr: `xcp_vm_runstate_partial_contention{${VM}}`, legend: 'partial contention' },
              { expr: `xcp_vm_runstate_concurrency_hazard{${VM}}`, legend: 'concurrency hazard' },
            ],
            unit: 'percentunit',
            min: 0,
            stack: true,
            legendCalcs: ['mean'],
            legendRight: true,
          },
        ],
      },
      {
        title: 'Memory and guest agent',
        panels: [
          {
            kind: 'timeseries',
            title: 'Memory',
            description:
              'Memory given to the VM (actual), the balloon target set by the host, and what the guest itself reports as used and free (needs guest tools).',
            w: 12,
            h: 8,
            targets: [
              { expr: `xcp_vm_memory_bytes{${VM}}`, legend: 'allocated' },
              { expr: `xcp_vm_memory_target_bytes{${VM}}`, legend: 'target' },
              { expr: `xcp_vm_memory_bytes{${VM}} - xcp_vm_memory_internal_free_bytes{${VM}}`, legend: 'used inside the guest' },
              { expr: `xcp_vm_memory_internal_free_bytes{${VM}}`, legend: 'free inside the guest' },
            ],
            unit: 'bytes',
            min: 0,
            legendCalcs: ['lastNotNull', 'min'],
          },
          {
            kind: 'timeseries',
            title: 'Guest heartbeat age',
            description:
              "Seconds since the guest agent's memory report last changed; it stays under about 2 minutes on a healthy guest. (VM_guest_metrics.last_updated is no heartbeat: XAPI changes it only when the agent's static data changes.)",
            w: 12,
            h: 8,
            targets: [{ expr: `xcp_vm_guest_memory_report_age_seconds{${VM}}`, legend: 'memory report age' }],
            unit: 's',
            min: 0,
            thresholds: heartbeatSteps,
            thresholdsStyle: 'dashed',
            legendCalcs: ['lastNotNull', 'max'],
          },
        ],
      },
      {
        title: 'Disks',
        panels: [
          {
            kind: 'timeseries',
            title: 'Disk throughput per device',
            description: 'Bytes per second read (up) and written (down) on each virtual disk (VBD).',
            w: 12,
            h: 8,
            targets: [
              { expr: `rate(xcp_vm_disk_read_bytes_total{${VM}}[${RATE}])`, legend: '{{device}} read' },
              { expr: `rate(xcp_vm_disk_write_bytes_total{${VM}}[${RATE}])`, legend: '{{device}} write' },
            ],
            unit: 'Bps',
            negativeY: '.* write$',
          },
          {
            kind: 'timeseries',
            title: 'Disk IOPS per device',
            description: 'Read (up) and write (down) requests per second on each virtual disk.',
            w: 12,
            h: 8,
            targets: [
              { expr: `xcp_vm_disk_iops_read{${VM}}`, legend: '{{device}} read' },
              { expr: `xcp_vm_disk_iops_write{${VM}}`, legend: '{{device}} write' },
            ],
            unit: 'iops',
            negativeY: '.* write$',
          },
          {
            kind: 'timeseries',
            title: 'Disk latency per device',
            description: 'Average read and write latency of each virtual disk.',
            w: 12,
            h: 8,
            targets: [
              { expr: `xcp_vm_disk_read_latency_seconds{${VM}}`, legend: '{{device}} read' },
              { expr: `xcp_vm_disk_write_latency_seconds{${VM}}`, legend: '{{device}} write' },
            ],
            unit: 's',
            min: 0,
            thresholds: steps(GREEN, [0.02, YELLOW], [0.1, RED]),
            thresholdsStyle: 'dashed',
          },
          {
            kind: 'timeseries',
            title: 'Disk queue per device',
            description: 'Requests in flight, average queue size, and I/O wait (seconds waiting per second) of each virtual disk.',
            w: 12,
            h: 8,
            targets: [
              { expr: `xcp_vm_disk_inflight{${VM}}`, legend: '{{device}} in flight' },
              { expr: `xcp_vm_disk_queue_size{${VM}}`, legend: '{{device}} queue size' },
              { expr: `xcp_vm_disk_iowait{${VM}}`, legend: '{{device}} I/O wait' },
            ],
            unit: 'short',
            min: 0,
          },
          {
            kind: 'table',
            title: 'Virtual disks',
            description: "The VM's VDIs: where they live, their virtual size and the space they use on the SR (thin provisioning).",
            w: 24,
            h: 5,
            targets: [
              { expr: `max by (vdi_uuid, vdi_name, sr_name, sr_type) (xcp_vdi_virtual_size_bytes{${VM}})` },
              { expr: `max by (vdi_uuid, vdi_name, sr_name, sr_type) (xcp_vdi_physical_usage_bytes{${VM}})` },
              { expr: `max by (vdi_uuid, vdi_name, sr_name, sr_type) (xcp_vdi_physical_usage_bytes{${VM}} / xcp_vdi_virtual_size_bytes{${VM}})` },
            ],
            columns: [
              { field: 'vdi_name', title: 'VDI' },
              { field: 'sr_name', title: 'SR' },
              { field: 'sr_type', title: 'SR type' },
              { field: 'Value #A', title: 'Virtual size', unit: 'bytes' },
              { field: 'Value #B', title: 'Used on SR', unit: 'bytes' },
              { field: 'Value #C', title: 'Used / virtual', unit: 'percentunit', min: 0, max: 1, thresholds: steps(GREEN, [1, YELLOW]), cell: 'gauge' },
            ],
            sortBy: { title: 'VDI', desc: false },
          },
        ],
      },
      {
        title: 'Network',
        panels: [
          {
            kind: 'timeseries',
            title: 'Network per VIF',
            description: 'Bytes per second received (up) and transmitted (down) on each virtual interface.',
            w: 12,
            h: 8,
            targets: [
              { expr: `rate(xcp_vm_network_receive_bytes_total{${VM}}[${RATE}])`, legend: 'VIF {{vif}} ({{network_name}}) receive' },
              { expr: `rate(xcp_vm_network_transmit_bytes_total{${VM}}[${RATE}])`, legend: 'VIF {{vif}} ({{network_name}}) transmit' },
            ],
            unit: 'Bps',
            negativeY: '.* transmit$',
          },
          {
            kind: 'timeseries',
            title: 'Network errors per VIF',
            description: 'Receive (up) and transmit (down) errors per second on each virtual interface.',
            w: 12,
            h: 8,
            targets: [
              { expr: `rate(xcp_vm_network_receive_errors_total{${VM}}[${RATE}])`, legend: 'VIF {{vif}} receive' },
              { expr: `rate(xcp_vm_network_transmit_errors_total{${VM}}[${RATE}])`, legend: 'VIF {{vif}} transmit' },
            ],
            unit: 'short',
            negativeY: '.* transmit$',
            thresholds: steps(GREEN, [0.1, RED]),
          },
        ],
      },
    ],
  });
}
