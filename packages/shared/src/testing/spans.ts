import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { startTelemetry } from "../telemetry.ts";

/**
 * Starts this process's telemetry with every finished span kept in memory, for tests that
 * assert on spans. `stop()` unregisters it again.
 * @example const spans = captureSpans("gateway"); … spans.finished(); await spans.stop();
 */
export function captureSpans(service: string) {
  const exporter = new InMemorySpanExporter();
  const telemetry = startTelemetry({
    service,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return {
    exporter,
    finished: () => exporter.getFinishedSpans(),
    stop: () => telemetry.shutdown(),
  };
}
