"""Load tokenproof's LiteLLM export in LiteLLM's own parsers (Router and the proxy's ProxyConfig).

Needs ``litellm`` (not a tokenproof dependency): run it in an environment that has it, e.g.
``python -m venv /tmp/ll && /tmp/ll/bin/pip install 'litellm[proxy]' pyyaml`` then
``tokenproof routes export -o /tmp/litellm.yaml && /tmp/ll/bin/python bench/litellm_export_check.py
/tmp/litellm.yaml``. Prints what LiteLLM parsed (model groups and fallbacks).
"""

from __future__ import annotations

import asyncio
import os
import sys


async def main(path: str) -> None:
    import yaml
    from litellm import Router
    from litellm.proxy.proxy_server import ProxyConfig

    os.environ.setdefault("OPENAI_API_KEY", "sk-not-used")
    with open(path, encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    router = Router(model_list=config["model_list"], **config["router_settings"])
    print("litellm Router: groups", sorted(set(router.get_model_names())), "fallbacks", router.fallbacks)
    proxy_router, _models, _settings = await ProxyConfig().load_config(router=None, config_file_path=path)
    print("litellm proxy config: groups", sorted(set(proxy_router.get_model_names())),
          "fallbacks", proxy_router.fallbacks)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
