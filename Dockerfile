FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine engine
COPY operations operations
COPY api api
COPY sandbox sandbox
RUN pip install --no-cache-dir .
RUN useradd --system --uid 1000 engine && mkdir /metrics && chown engine /metrics
USER engine
EXPOSE 8000
CMD ["ghl-engine", "api", "--host", "0.0.0.0", "--port", "8000"]
