#!/usr/bin/env bash
# Obtain Fashion-MNIST on a fresh Debian/Ubuntu machine: the Debian package when root,
# else torchvision's download into ./data, else say exactly what to run.
set -u
files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"
have() { for f in $files; do [ -f "$1/$f" ] || return 1; done; }
for d in "${HBN_DATA:-data}/fashion-mnist" /usr/share/datasets/fashion-mnist; do
  have "$d" && { echo "Fashion-MNIST: found in $d"; exit 0; }
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Fashion-MNIST: installing the Debian package dataset-fashion-mnist"
  { apt-get install -y dataset-fashion-mnist || { apt-get update && apt-get install -y dataset-fashion-mnist; }; } >/dev/null 2>&1
  have /usr/share/datasets/fashion-mnist && exit 0
fi
py=${PYTHON:-.venv/bin/python}
if "$py" -c "from torchvision.datasets import FashionMNIST; FashionMNIST('${HBN_DATA:-data}', download=True)" >/dev/null 2>&1; then
  echo "Fashion-MNIST: downloaded with torchvision into ${HBN_DATA:-data}/FashionMNIST/raw"; exit 0
fi
cat >&2 <<MSG
Fashion-MNIST could not be obtained. Run one of:
  sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist
  or copy the four official *-ubyte.gz files into ${HBN_DATA:-data}/fashion-mnist/
MSG
exit 1
