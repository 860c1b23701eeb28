// The flags of the commands that run VMs on this machine (`labvirt server`'s in-process
// agent and `labvirt agent`): where VMs' displays listen for terminals and how VMs reach
// the network. Their values are parsed by parseGatewayFlags/parseNetworkFlags (server.ts).
import type { Command } from 'commander';
import type { Translator } from '../i18n/translator.js';

/**
 * Adds the flags to `command`; `gatewayAddressHelp` says what terminals are told when
 * --gateway-address is not given (it differs between the controller and an agent).
 */
export function addHostFlags(
  command: Command,
  tr: Translator,
  gatewayAddressHelp: string,
): Command {
  return command
    .option(
      '--gateway-bind <ADDR>',
      tr.t('where VMs’ displays listen for terminals (default 127.0.0.1: this machine only)'),
    )
    .option('--gateway-address <HOST>', gatewayAddressHelp)
    .option('--gateway-ports <FROM-TO>', tr.t('the TCP ports VMs’ displays may use (default: any)'))
    .option('--vm-network <MODE>', tr.t('how VMs reach the network: user (default) or bridge'))
    .option('--bridge <NAME>', tr.t('the Linux bridge VMs join (implies --vm-network bridge)'))
    .option(
      '--taps <HOW>',
      tr.t('who makes VMs’ TAP devices: helper (qemu-bridge-helper, default) or precreated'),
    )
    .option('--dhcp', tr.t('run a DHCP server on the bridge for the labs’ address pools'));
}
