// What a shop page does with the real @segment/analytics-next (its UMD build, AnalyticsNext):
// load it with the collector as the API host and settings given inline (so nothing is fetched
// from Segment's CDN), then identify and track as the shop's own code would.

// Loads the SDK for this page as `window.shop` (the loaded Analytics); returns its anonymousId.
window.openAnalytics = async ({ writeKey, apiHost }) => {
  const [analytics] = await AnalyticsNext.AnalyticsBrowser.load(
    {
      writeKey,
      // What Segment's CDN would return for a source with only the Segment.io destination;
      // no remote metrics (they would go to apiHost + "/m").
      cdnSettings: { integrations: { 'Segment.io': { apiKey: writeKey } }, metrics: { sampleRate: 0 } },
    },
    {
      integrations: { 'Segment.io': { apiHost, protocol: 'http' } },
      // Nothing left in localStorage for a later page to resend.
      disableClientPersistence: true,
    }
  )
  window.shop = analytics
  return analytics.user().anonymousId()
}

// Each resolves once the call is delivered, with its messageId.
window.trackCall = async ({ event, properties }) =>
  (await window.shop.track(event, properties)).event.messageId
window.identifyCall = async ({ userId, traits }) =>
  (await window.shop.identify(userId, traits)).event.messageId

// Identifies the shopper, tracks each call and waits for its delivery. Returns the messageId
// of each call, in order.
window.sendToCollector = async ({ writeKey, apiHost, userId, calls }) => {
  await window.openAnalytics({ writeKey, apiHost })
  await window.shop.identify(userId)
  const messageIds = []
  for (const call of calls) messageIds.push(await window.trackCall(call))
  return messageIds
}
