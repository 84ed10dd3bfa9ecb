// hvsim's command line: `hvsim <command> ...`.

import { runCommand } from './run.js';
import { replayCommand } from './replay.js';
import { traceCommand } from './trace-tools.js';
import { conformCommand } from './conform.js';
import { STATUS } from '../api/exit-status.js';

import { HVSIM_VERSION as VERSION } from '../version.js';

const HELP = `hvsim ${VERSION} - a deterministic hypervisor simulator

usage: hvsim run [bhyve-style options] --kernel FILE [--record TRACE] vmname
       hvsim replay [--mode verify|standalone] [--json] TRACE
       hvsim trace show|stats|diff ...   (see 'hvsim trace --help')
       hvsim conform [--seed N] [--runs N] [--personality NAME[,NAME]] [--area A] [--json] [--out DIR] [--deep]
       hvsim version
       hvsim help

Run 'hvsim run --help' for the options of a run.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'run':
      return runCommand(rest);
    case 'replay':
      return replayCommand(rest);
    case 'trace':
      return traceCommand(rest, process);
    case 'conform':
      return conformCommand(rest);
    case 'version':
    case '--version':
      process.stdout.write(`hvsim ${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return cmd === undefined ? STATUS.USAGE : 0;
    default:
      process.stderr.write(`hvsim: unknown command '${cmd}' (try 'hvsim help')\n`);
      return STATUS.USAGE;
  }
}
