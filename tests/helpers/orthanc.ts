import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { mkdir, writeFile } from 'node:fs/promises';
import type net from 'node:net';
import path from 'node:path';
import { freePort } from './free-port';
import { setTimeout as sleep } from 'node:timers/promises';

/** Debian's Orthanc and its DICOMweb plugin (installed by .ci/run). */
const ORTHANC = '/usr/sbin/Orthanc';
const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export type OrthancServer = {
  /** REST root, e.g. https://127.0.0.1:PORT */
  url: string;
  /** DICOMweb root. */
  dicomweb: string;
  user: string;
  password: string;
  /** Stores a DICOM file through the REST API (POST /instances). */
  upload(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
};

/**
 * HTTPS in front of Orthanc's HTTP port, on 127.0.0.1 and a random port. Debian's Orthanc 1.10.1
 * crashes (SIGSEGV, exit 139) on its first HTTPS request with OpenSSL 3, so TLS is terminated by
 * this loopback proxy instead: the client still sees a real TLS server with the test CA's chain.
 */
async function tlsProxy(
  target: number,
  tls: { keyPem: string; certChainPem: string },
): Promise<{ port: number; close(): Promise<void> }> {
  const server = https.createServer({ key: tls.keyPem, cert: tls.certChainPem }, (req, res) => {
    const up = http.request(
      { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * Starts a throwaway Orthanc (own config and storage under `dir`) with the DICOMweb plugin and
 * basic auth; when `tls` is given, it is reached over HTTPS with that key + certificate chain
 * (see tlsProxy). Remote access is off: it answers loopback clients only. Throws with the fix
 * when Orthanc is not installed.
 */
export async function startOrthanc(
  dir: string,
  tls?: { keyPem: string; certChainPem: string },
): Promise<OrthancServer> {
  if (!existsSync(ORTHANC) || !existsSync(DICOMWEB_PLUGIN))
    throw new Error('Orthanc is not installed: run `apt-get install -y orthanc orthanc-dicomweb`');
  await mkdir(path.join(dir, 'db'), { recursive: true });
  const user = 'fgl';
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const httpPort = await freePort();
  const config: Record<string, unknown> = {
    Name: 'fgl-test',
    StorageDirectory: path.join(dir, 'db'),
    IndexDirectory: path.join(dir, 'db'),
    HttpPort: httpPort,
    DicomServerEnabled: false,
    DicomPort: await freePort(),
    RemoteAccessAllowed: false,
    AuthenticationEnabled: true,
    RegisteredUsers: { [user]: password },
    Plugins: [DICOMWEB_PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/' },
    ExecuteLuaEnabled: false,
  };
  const configFile = path.join(dir, 'orthanc.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const child: ChildProcess = spawn(ORTHANC, [configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const proxy = tls ? await tlsProxy(httpPort, tls) : undefined;
  const url = proxy ? `https://127.0.0.1:${proxy.port}` : `http://127.0.0.1:${httpPort}`;
  const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  // Our own loopback requests trust Orthanc's test CA only through the chain it was given.
  const { Agent } = await import('node:https');
  const agent = tls ? new Agent({ ca: tls.certChainPem }) : undefined;
  const request = async (method: string, p: string, body?: Uint8Array) => {
    const { default: axios } = await import('axios');
    return axios.request({
      method,
      url: url + p,
      data: body,
      headers: { authorization, 'content-type': 'application/dicom' },
      ...(agent ? { httpsAgent: agent } : {}),
      validateStatus: () => true,
    });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await proxy?.close();
      throw new Error(`Orthanc exited (${child.exitCode}):\n${log}`);
    }
    const ok = await request('GET', '/system').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await proxy?.close();
      throw new Error(`Orthanc did not start within 30 s:\n${log}`);
    }
    await sleep(200);
  }
  return {
    url,
    dicomweb: `${url}/dicom-web`,
    user,
    password,
    async upload(bytes) {
      const r = await request('POST', '/instances', bytes);
      if (r.status !== 200)
        throw new Error(`Orthanc refused an instance: ${r.status} ${JSON.stringify(r.data)}`);
    },
    async close() {
      await proxy?.close();
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
