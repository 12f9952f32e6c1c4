// Certificates made at run time with openssl: a CA, a server certificate for localhost and
// 127.0.0.1, and a client certificate, all signed by the CA, in a temporary directory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface Certs {
  ca: Buffer;
  serverKey: Buffer;
  serverCert: Buffer;
  clientKey: Buffer;
  clientCert: Buffer;
  /** A CA that signed nothing here: a client trusting only it must refuse our server. */
  otherCa: Buffer;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

export function makeCerts(): Certs {
  const dir = mkdtempSync(path.join(os.tmpdir(), "netrpc-certs-"));
  try {
    const ca = (name: string) => openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=${name}`]);
    ca("ca");
    ca("other-ca");
    const leaf = (name: string, ext: string) => {
      openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
      writeFileSync(path.join(dir, `${name}.ext`), ext);
      openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`]);
    };
    leaf("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    leaf("client", "extendedKeyUsage=clientAuth\n");
    const read = (f: string) => readFileSync(path.join(dir, f));
    return {
      ca: read("ca.pem"),
      serverKey: read("server.key"),
      serverCert: read("server.pem"),
      clientKey: read("client.key"),
      clientCert: read("client.pem"),
      otherCa: read("other-ca.pem"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
