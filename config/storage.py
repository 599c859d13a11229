"""Static files in production: hashed names, compressed (WhiteNoise)."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    # The browser client is ES modules: rewrite their `import` lines to the
    # hashed names too, or a browser could mix a new entry module with cached
    # old modules it imports after a deploy.
    support_js_module_import_aggregation = True
