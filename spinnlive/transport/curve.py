"""ZeroMQ CURVE for the bridge's sockets: who may connect once they listen beyond loopback.

Theory of operation
-------------------
A bridge bound to 127.0.0.1 is reachable by local processes only. Bound anywhere else (the
operator's choice, e.g. ``tcp://0.0.0.0:5555``), anyone on the network could inject, read and
drive the run, so the bridge refuses that unless it has keys (``--curve DIR``) or the operator
says ``--insecure`` (:func:`check_binding`). With keys every ZeroMQ socket of the bridge is a
CURVE server, and a ZAP authenticator admits only the client public keys in ``DIR/clients``: a
client without them completes no handshake, so it gets nothing in and nothing out.

``spinnlive keys DIR`` (:func:`generate`) writes the server's key pair (``DIR/server``), one
client key pair whose public half is authorised (``DIR/clients``), and ``DIR/client.json``, the
one file a client needs (:func:`load_client`): ``spinnlive.connect(endpoint, curve=FILE)``.
More clients: more ``*.key`` public certificates in ``DIR/clients``.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.asyncio import AsyncioAuthenticator

from spinnlive.errors import ConfigurationError

__all__ = ["ClientKeys", "ServerKeys", "check_binding", "generate", "load_client",
           "load_server"]


@dataclass(frozen=True, slots=True)
class ServerKeys:
    public: bytes
    secret: bytes
    clients: Path  #: the folder of authorised client public certificates

    def apply(self, sock: zmq.Socket) -> None:  # type: ignore[type-arg]
        sock.curve_secretkey = self.secret
        sock.curve_publickey = self.public
        sock.curve_server = True

    def authenticator(self, ctx: zmq.Context) -> AsyncioAuthenticator:  # type: ignore[type-arg]
        auth = AsyncioAuthenticator(ctx)
        auth.start()
        auth.configure_curve(domain="*", location=str(self.clients))
        return auth


@dataclass(frozen=True, slots=True)
class ClientKeys:
    server_public: bytes
    public: bytes
    secret: bytes

    def apply(self, sock: zmq.Socket) -> None:  # type: ignore[type-arg]
        sock.curve_serverkey = self.server_public
        sock.curve_publickey = self.public
        sock.curve_secretkey = self.secret


def generate(directory: str | Path) -> tuple[Path, str, str]:
    """Server and client keys under ``directory``; (client file, server public, client public)."""
    root = Path(directory)
    for sub in ("server", "clients", "client-secret"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    server_public_file, server_secret_file = zmq.auth.create_certificates(root / "server",
                                                                          "server")
    client_public_file, client_secret_file = zmq.auth.create_certificates(
        root / "client-secret", "client")
    (root / "clients" / "client.key").write_bytes(Path(client_public_file).read_bytes())
    server_public, _ = zmq.auth.load_certificate(server_public_file)
    client_public, client_secret = zmq.auth.load_certificate(client_secret_file)
    assert client_secret is not None
    client_file = root / "client.json"
    client_file.write_text(json.dumps({"server_public": server_public.decode(),
                                       "public": client_public.decode(),
                                       "secret": client_secret.decode()}))
    client_file.chmod(0o600)
    return client_file, server_public.decode(), client_public.decode()


def load_server(directory: str | Path) -> ServerKeys:
    root = Path(directory)
    try:
        public, secret = zmq.auth.load_certificate(root / "server" / "server.key_secret")
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"no CURVE server keys in {root} ({exc}); make them with "
                                 f"'spinnlive keys {root}'") from exc
    if secret is None:
        raise ConfigurationError(f"{root}/server/server.key_secret has no secret key")
    return ServerKeys(public, secret, root / "clients")


def load_client(path: str | Path) -> ClientKeys:
    """A client's keys from the file ``spinnlive keys`` wrote (``client.json``)."""
    try:
        values = json.loads(Path(path).read_text())
        return ClientKeys(values["server_public"].encode(), values["public"].encode(),
                          values["secret"].encode())
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise ConfigurationError(f"{path} is not a spinnlive CURVE client file ({exc})") from exc


def check_binding(endpoints: dict[str, str], *, curve: bool, insecure: bool) -> None:
    """Refuse a TCP endpoint beyond loopback without CURVE unless the operator said insecure."""
    if curve or insecure:
        return
    for name, endpoint in endpoints.items():
        if not endpoint.startswith("tcp://"):
            continue
        host = endpoint[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
        try:
            local = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = False  # a name or an interface: not known to be loopback
        if not local:
            raise ConfigurationError(
                f"the bridge's {name} endpoint {endpoint} is reachable beyond this machine and "
                "nothing authenticates its peers: give keys (--curve DIR, made by 'spinnlive "
                "keys DIR') or say --insecure")
