# Everything starts from a fresh machine with only Python 3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export NO_MKDOCS_2_WARNING := 1

.PHONY: docs handout test serve bench clean deploy

# Installs sized to the job: `make docs` installs stabreport with what building the site needs;
# `make test` adds the test extra (pytest, Playwright, Dask, Jupyter's kernel, ...). pip prints
# what it fetches as it goes.
DOCS_STAMP := $(VENV)/.installed-docs
TEST_STAMP := $(VENV)/.installed-test

$(DOCS_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -e .
	touch $@

$(TEST_STAMP): $(DOCS_STAMP)
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -e '.[test]'
	touch $@

# The PDF handout (site/handout.pdf) and the browser tests use Debian's Chromium (Playwright's
# own browser download does not work here). Defined before the rules that need it.
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

# The handout takes any browser stabreport finds ($$STABREPORT_CHROMIUM, chromium, google-chrome,
# ...); Debian's chromium is installed only where there is none.
BROWSER := $(or $(STABREPORT_CHROMIUM),$(firstword $(shell command -v chromium chromium-browser google-chrome google-chrome-stable 2>/dev/null)))

# The Chinese edition's figures are drawn with Noto Sans CJK (Debian's fonts-noto-cjk), embedded
# in each figure; installed only where no copy of it is found.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
HAS_CJK  := $(firstword $(shell find /usr/share/fonts /usr/local/share/fonts $(HOME)/.local/share/fonts \
                -name 'NotoSansCJK-Regular.ttc' -o -name 'NotoSansCJKsc-Regular.otf' 2>/dev/null))

$(CJK_FONT):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-noto-cjk

docs: $(DOCS_STAMP) $(if $(BROWSER),,$(CHROMIUM)) $(if $(HAS_CJK),,$(CJK_FONT))
	$(BIN)/stabreport build --strict
	$(BIN)/stabreport site

# The printable handout of the whole report: built with the site.
handout: docs
	@echo "site/handout.pdf"

test: $(TEST_STAMP) $(CHROMIUM) $(if $(HAS_CJK),,$(CJK_FONT))
	$(BIN)/python -m pytest

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench.py

serve: $(DOCS_STAMP)
	$(BIN)/stabreport serve --dev-addr 127.0.0.1:8000

# Publish site/ to the gh-pages branch of this repository (MkDocs' own GitHub Pages deploy).
deploy: docs
	$(BIN)/mkdocs gh-deploy --config-file .stabreport-mkdocs.yml --force --no-history --dirty

clean:
	-$(BIN)/stabreport clean
	rm -rf site docs/generated .stabreport-cache .stabreport-mkdocs.yml test-output
