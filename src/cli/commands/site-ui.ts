import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../repo-root';
import { type Command, UsageError, intOption } from '../command';
import { createSiteHandlers } from '../../site/api/site-handlers';
import { startSiteAgent } from '../../site/agent/site-agent';
import { siteHome, sitePaths } from '../../site/site-home';
import { locateModelsFolder } from '../../core/models/model-folders';
import { resolveModelsOption } from '../study/models-folder';

/** The renderer electron-vite builds (`npm run build`); the agent serves it as it is. */
function rendererDir(): string {
  return join(REPO_ROOT, 'out', 'renderer');
}

/**
 * Open the URL in the desktop's browser. Only where a desktop exists: on a headless server the
 * URL is printed for an SSH tunnel instead. (The token is briefly visible in the opener's argv to
 * other local users; on shared machines use --no-open and paste the printed link.)
 */
function openBrowser(url: string, warn: (line: string) => void): void {
  const platform = process.platform;
  if (platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return;
  const [cmd, args] =
    platform === 'darwin'
      ? ['open', [url]]
      : platform === 'win32'
        ? ['cmd', ['/c', 'start', '""', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args as string[], {
      stdio: 'ignore',
      detached: true,
      windowsHide: true,
    });
    child.on('error', () =>
      warn(`could not open a browser (${cmd}); open the link above yourself`),
    );
    child.unref();
  } catch {
    warn('could not open a browser; open the link above yourself');
  }
}

export const siteUiCommand: Command = {
  path: ['site', 'ui'],
  summary: 'Serve the site app in a browser (headless site agent on 127.0.0.1)',
  description: [
    'Runs the same screens as the desktop app, served over HTTP on 127.0.0.1 only, for machines',
    'without a desktop (e.g. a GPU server: reach it through `ssh -L PORT:127.0.0.1:PORT host`).',
    'Every request needs the random session token in the printed link; it changes on each start.',
    'Needs the built UI: run `npm run build` once first. Stop with Ctrl-C.',
    'Site state lives in $FGL_HOME (default: the OS app-data folder), as for the desktop app.',
  ].join('\n'),
  options: {
    port: { type: 'string', value: 'P', description: 'port on 127.0.0.1 (default: a free one)' },
    'no-open': { type: 'boolean', description: 'print the link only; do not open a browser' },
  },
  examples: [
    'fgl site ui',
    'fgl site ui --port 8765 --no-open   # then: ssh -L 8765:127.0.0.1:8765 gpu-host',
  ],
  async run(ctx) {
    if (ctx.positionals.length > 0)
      throw new UsageError(`unexpected arguments: ${ctx.positionals.join(' ')}`);
    const port = intOption(ctx, 'port', 0, 0);
    if (port > 65535) throw new UsageError('--port must be between 0 and 65535');
    const dir = rendererDir();
    if (!existsSync(`${dir}/index.html`))
      throw new UsageError(
        `The site UI is not built (no ${dir}/index.html).`,
        'Run `npm run build` in the FGL folder once, then start `fgl site ui` again.',
      );

    const home = siteHome();
    const backend = createSiteHandlers({
      home,
      // 'tiny' or a folder, as in the desktop app's Settings → models folder.
      resolveModels: async (setting) =>
        locateModelsFolder(await resolveModelsOption(setting, sitePaths(home).models, { site: true })),
    });
    let agent;
    try {
      agent = await startSiteAgent({
        handlers: backend.handlers,
        rendererDir: dir,
        host: '127.0.0.1',
        port,
        log: (l) => ctx.out.warn(l),
      });
    } catch (err) {
      backend.close();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE')
        throw new UsageError(
          `Port ${port} is in use.`,
          'Choose another with --port, or leave it out for a free one.',
        );
      throw err;
    }
    ctx.out.result({ url: agent.url, port: agent.port, home }, () =>
      [
        `FGL site UI: ${agent.url}`,
        `  site data: ${home}`,
        `  from another machine: ssh -L ${agent.port}:127.0.0.1:${agent.port} <this-host>, then open http://localhost:${agent.port}/#token=${agent.token}`,
        "  The link carries this session's token: do not share it. Ctrl-C stops the agent.",
      ].join('\n'),
    );
    if (ctx.values['no-open'] !== true) openBrowser(agent.url, (l) => ctx.out.warn(l));

    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await agent.close();
    backend.close();
    ctx.out.info('Site UI stopped.');
    return 0;
  },
};
