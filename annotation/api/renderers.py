"""DRF's browsable API under the site's Content-Security-Policy."""

from csp.constants import UNSAFE_INLINE
from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's HTML pages, with inline styles allowed on them alone: DRF's base template sets
    `style` attributes (its dropdowns and filter button) and a `<style>` block (code
    highlighting), which the site's `style-src 'self'` refused, leaving console errors and
    misplaced buttons. Scripts stay `'self'` only; the JSON answers are not touched."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            # What django-csp's @csp_update sets; its middleware reads it from the response.
            response._csp_update = {"style-src": [UNSAFE_INLINE]}
        return super().render(data, accepted_media_type, renderer_context)
