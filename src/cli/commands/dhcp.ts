// `labvirt dhcp export`: the DHCP host entries of the labs' terminals' VMs, over the API,
// printed exactly as the file a DHCP server reads.
import { Command } from 'commander';
import { apiCommand, clientFor, printJson, type ApiFlags } from '../api-command.js';
import type { CliContext } from '../context.js';
import type { DhcpHostEntry } from '../../domain/dhcp-hosts.js';

export function dhcpCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  const dhcp = new Command('dhcp').description(
    tr.t('the DHCP host entries of the terminals’ VMs (from the labs’ address pools)'),
  );

  dhcp.addCommand(
    apiCommand('export', tr.t('print the DHCP host entries, as a DHCP server’s file'), ctx)
      .option('--lab <LAB>', tr.t('only the terminals of this lab'))
      .option(
        '--format <FORMAT>',
        tr.t(
          'dnsmasq: a file for dnsmasq --dhcp-hostsfile=FILE (MAC,IP,NAME lines); dhcpd: host declarations to include in dhcpd.conf; json',
        ),
        'dnsmasq',
      )
      .addHelpText(
        'after',
        `\n${tr.t('Example: labvirt dhcp export > /etc/labvirt/dhcp-hosts, then run dnsmasq with --dhcp-hostsfile=/etc/labvirt/dhcp-hosts (send it SIGHUP after each export).')}\n`,
      )
      .action(async (flags: ApiFlags & { lab?: string; format: string }) => {
        const format = flags.json === true ? 'json' : flags.format;
        const query = new URLSearchParams({
          format,
          ...(flags.lab !== undefined ? { lab: flags.lab } : {}),
        });
        const client = await clientFor(flags, ctx);
        if (format === 'json')
          return printJson(
            ctx,
            await client.request<DhcpHostEntry[]>('GET', `/dhcp/hosts?${query}`),
          );
        io.out(await client.requestText(`/dhcp/hosts?${query}`));
      }),
  );
  return dhcp;
}
