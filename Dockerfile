# One image for the web app and the Celery workers.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VAD_VAR_DIR=/var/lib/vad-review

RUN apt-get update \
 && apt-get install -y --no-install-recommends gettext libpq5 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY vad_review ./vad_review
COPY annotation ./annotation
COPY scoring ./scoring
# CPU wheel by default; a GPU worker image builds with TORCH_INDEX=https://download.pytorch.org/whl/cu128
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --extra-index-url "$TORCH_INDEX" "torch==2.13.0" && pip install .
COPY manage.py ./
COPY templates ./templates
COPY static ./static

RUN useradd --system --uid 1000 --home /app vad \
 && mkdir -p "$VAD_VAR_DIR" && chown vad "$VAD_VAR_DIR"
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput
USER vad
EXPOSE 8000
CMD ["gunicorn", "vad_review.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
