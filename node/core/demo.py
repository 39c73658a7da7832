"""The devnet demo's fixed facts that more than one package needs: the demo enterprise and the dev
account that holds its licences. The node's demo (``node/demo/licences.py``,
``node/demo/counter.py``) issues and binds with them; the wallet's demo registers the same
enterprise with the same key."""

from __future__ import annotations

DEMO_ENTERPRISE_USCC = "91310000MA1FL1234Q"
DEMO_ENTERPRISE_NAME = "上海示范餐饮管理有限公司 (demo)"
# dev account 9 holds the demo enterprise's licences (bound on chain) and signs its presentations
DEMO_HOLDER_DEV_ACCOUNT = 9
