package io.gaialite;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;

/**
 * Analyzes many queries in one call from Python: their terms as one JSON array of arrays, instead of one crossing
 * into Java per term (gaia_lite/sparse/searcher.py scores them from the impact matrix).
 */
public final class QueryTerms {
  private static final ObjectMapper JSON = new ObjectMapper();

  private QueryTerms() {}

  /**
   * Each of {@code queries} analyzed by {@code analyzer} as Anserini's bag-of-words query analyzes it (its
   * {@code AnalyzerUtils.analyze}: every token of the stream, field name null).
   */
  public static String analyze(Analyzer analyzer, String[] queries) throws IOException {
    List<List<String>> out = new ArrayList<>(queries.length);
    for (String q : queries) {
      List<String> terms = new ArrayList<>();
      try (TokenStream stream = analyzer.tokenStream(null, q)) {
        CharTermAttribute term = stream.addAttribute(CharTermAttribute.class);
        stream.reset();
        while (stream.incrementToken()) {
          terms.add(term.toString());
        }
        stream.end();
      }
      out.add(terms);
    }
    return JSON.writeValueAsString(out);
  }
}
