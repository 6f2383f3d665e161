"""Vendor the dashboard's browser libraries from the npm registry, pinned, into the package.

For each pinned package: ``npm pack NAME@VERSION`` (the registry's tarball), check the
tarball against the registry's ``integrity`` (SRI sha512), extract only the dist files we
serve plus the LICENSE into ``src/ranopt/web/static/vendor/NAME-VERSION/`` and record name,
version, integrity and each file's sha256 in ``vendor.json`` (checked by
``tests/web/test_vendor.py``). Run from the repository root: ``python scripts/vendor_web.py``.
Needs npm at vendoring time only; nothing of Node runs when the dashboard is served.
"""

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "src" / "ranopt" / "web" / "static" / "vendor"

# name, version, {path in the tarball (under package/): path under vendor/NAME-VERSION/}
PINNED: tuple[tuple[str, str, dict[str, str]], ...] = (
    (
        "uplot",
        "1.6.31",
        {
            "LICENSE": "LICENSE",
            "dist/uPlot.esm.js": "uPlot.esm.js",
            "dist/uPlot.min.css": "uPlot.min.css",
        },
    ),
    (
        "leaflet",
        "1.9.4",
        {
            "LICENSE": "LICENSE",
            "dist/leaflet-src.esm.js": "leaflet-src.esm.js",
            "dist/leaflet.css": "leaflet.css",
            "dist/images/layers.png": "images/layers.png",
            "dist/images/layers-2x.png": "images/layers-2x.png",
            "dist/images/marker-icon.png": "images/marker-icon.png",
            "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
            "dist/images/marker-shadow.png": "images/marker-shadow.png",
        },
    ),
    (
        # Swagger UI for /docs (the API's interactive reference), served offline
        "swagger-ui-dist",
        "5.35.0",
        {
            "LICENSE": "LICENSE",
            "NOTICE": "NOTICE",
            "swagger-ui-bundle.js": "swagger-ui-bundle.js",
            # the licences of what the bundle bundles (renamed: no .txt among static files)
            "swagger-ui-bundle.js.LICENSE.txt": "LICENSES-BUNDLED",
            "swagger-ui.css": "swagger-ui.css",
            "favicon-32x32.png": "favicon-32x32.png",
        },
    ),
)


def sri_sha512(data: bytes) -> str:
    """Subresource-integrity string (``sha512-<base64>``) of ``data``, as npm records it."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def pack(name: str, version: str, workdir: Path) -> tuple[Path, str]:
    """Download ``name@version`` with ``npm pack``; return the tarball and its integrity."""
    out = subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
        cwd=workdir,
    ).stdout
    info = json.loads(out)[0]
    tarball = workdir / info["filename"]
    integrity: str = info["integrity"]
    if sri_sha512(tarball.read_bytes()) != integrity:
        msg = f"{name}@{version}: tarball does not match the registry integrity {integrity}"
        raise SystemExit(msg)
    return tarball, integrity


def extract(tarball: Path, files: dict[str, str], dest: Path) -> dict[str, str]:
    """Extract ``files`` from ``tarball`` into ``dest``; return {relative path: sha256}."""
    hashes: dict[str, str] = {}
    with tarfile.open(tarball) as tar:
        for source, target in sorted(files.items()):
            member = tar.extractfile(f"package/{source}")
            if member is None:
                msg = f"{tarball.name}: no file package/{source}"
                raise SystemExit(msg)
            data = member.read()
            path = dest / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            hashes[f"{dest.name}/{target}"] = hashlib.sha256(data).hexdigest()
    return hashes


def main() -> int:
    """Re-vendor every pinned package and rewrite ``vendor.json``."""
    manifest: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, version, files in PINNED:
            tarball, integrity = pack(name, version, Path(tmp))
            dest = VENDOR / f"{name}-{version}"
            shutil.rmtree(dest, ignore_errors=True)
            hashes = extract(tarball, files, dest)
            manifest.append(
                {"name": name, "version": version, "integrity": integrity, "files": hashes}
            )
    (VENDOR / "vendor.json").write_text(json.dumps({"packages": manifest}, indent=2) + "\n")
    sys.stdout.write(f"vendored {len(manifest)} packages into {VENDOR.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
