"""The dashboard's panels, registered by the apps that own them.

`annotation` draws the dashboard but must not import the apps built on it (`pipeline`): those
register a panel from their AppConfig.ready(), and the dashboard renders whatever is registered.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DashboardPanel:
    name: str
    template: str
    # Sort key on the page: lower comes first.
    order: int
    # Context the template needs; merged into the page's context.
    context: Callable[[], dict]
    admin_only: bool = True


_panels: dict[str, DashboardPanel] = {}


def dashboard_panel_register(panel: DashboardPanel) -> None:
    """Add a panel (registering the same name again replaces it, so reloads are harmless)."""
    _panels[panel.name] = panel


def dashboard_panels(*, admin: bool) -> list[DashboardPanel]:
    return sorted((p for p in _panels.values() if admin or not p.admin_only), key=lambda p: p.order)
