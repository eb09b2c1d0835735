/** Tiny test models prove the plumbing, never accuracy: say so wherever their numbers appear. */
export function TinyModelsBanner() {
  return (
    <div className="banner banner-warning" role="status">
      <strong>Tiny test models in use.</strong> They are generated for testing: every embedding,
      plot and metric here is at chance level and shows only that the pipeline works. Install real
      models (Settings → models folder) for real results.
    </div>
  );
}
