// The experiment screens' GraphQL operations.
import { graphql } from '../gql';

/** An experiment's settings and status: what every experiment screen shows. */
export const ExperimentFields = graphql(`
  fragment ExperimentFields on Experiment {
    id
    flagSet
    key
    flag
    control
    weights {
      variant
      weight
    }
    metrics {
      name
      event
      kind
    }
    windowSeconds
    alpha
    sequentialTuning
    status
    startedAt
    stoppedAt
    version
    createdBy
    createdAt
    updatedAt
  }
`);

/** One analysis, every figure of it. */
export const ResultFields = graphql(`
  fragment ResultFields on ExperimentResult {
    id
    computedAt
    users
    alpha
    srm {
      chi2
      pValue
      mismatch
    }
    multipleExposureShare
    variants {
      variant
      users
      metrics {
        metric
        count
        sum
        mean
        variance
      }
    }
    comparisons {
      variant
      metric
      absLift
      relLift
      absCi {
        low
        high
      }
      relCi {
        low
        high
      }
      pValue
      pValueHolm
      pValueBh
      mdeAbs
      mdeRel
      chanceToBeatControl
      expectedLoss
      sequentialPValue
      sequentialCi {
        low
        high
      }
      sequentialRelPValue
      sequentialRelCi {
        low
        high
      }
      sequentialPValueHolm
    }
    notes {
      pointer
      reason
    }
    verdict
  }
`);

/** The list: each experiment with its health at its latest analysis. */
export const ExperimentListQuery = graphql(`
  query ExperimentList($flagSet: String!) {
    experiments(flagSet: $flagSet) {
      id
      key
      flag
      control
      status
      startedAt
      stoppedAt
      updatedAt
      health {
        computedAt
        users
        srmMismatch
        srmPValue
        multipleExposureShare
        verdict
      }
    }
  }
`);

/** The results screen: the settings, the latest result and the history the lift chart draws. */
export const ExperimentResultsQuery = graphql(`
  query ExperimentResults($flagSet: String!, $key: String!, $last: Int!) {
    experiment(flagSet: $flagSet, key: $key) {
      ...ExperimentFields
      latestResult {
        ...ResultFields
      }
      results(last: $last) {
        id
        computedAt
        users
        alpha
        comparisons {
          variant
          metric
          relLift
          sequentialRelCi {
            low
            high
          }
        }
      }
    }
  }
`);

/** A draft, read to be edited. */
export const ExperimentDraftQuery = graphql(`
  query ExperimentDraft($flagSet: String!, $key: String!) {
    experiment(flagSet: $flagSet, key: $key) {
      ...ExperimentFields
    }
  }
`);

/** The flags the form offers, found by the server's search. */
export const ExperimentFlagChoicesQuery = graphql(`
  query ExperimentFlagChoices($flagSet: String!, $search: String, $first: Int!) {
    flags(flagSet: $flagSet, search: $search, first: $first) {
      items {
        key
      }
      totalCount
    }
  }
`);

/** The chosen flag: its variants and its split. */
export const ExperimentFlagQuery = graphql(`
  query ExperimentFlag($flagSet: String!, $key: String!) {
    flag(flagSet: $flagSet, key: $key) {
      flagSet
      key
      definition
      defaultVariant
      version
    }
  }
`);

export const CreateExperimentMutation = graphql(`
  mutation CreateExperiment($flagSet: String!, $key: String!, $settings: ExperimentSettings!) {
    createExperiment(flagSet: $flagSet, key: $key, settings: $settings) {
      ...ExperimentFields
    }
  }
`);

export const UpdateExperimentMutation = graphql(`
  mutation UpdateExperiment($flagSet: String!, $key: String!, $expectedVersion: Int!, $settings: ExperimentSettings!) {
    updateExperiment(flagSet: $flagSet, key: $key, expectedVersion: $expectedVersion, settings: $settings) {
      ...ExperimentFields
    }
  }
`);

export const StartExperimentMutation = graphql(`
  mutation StartExperiment($flagSet: String!, $key: String!) {
    startExperiment(flagSet: $flagSet, key: $key) {
      ...ExperimentFields
    }
  }
`);

export const StopExperimentMutation = graphql(`
  mutation StopExperiment($flagSet: String!, $key: String!) {
    stopExperiment(flagSet: $flagSet, key: $key) {
      ...ExperimentFields
    }
  }
`);

export const RunAnalysisMutation = graphql(`
  mutation RunAnalysis($flagSet: String!, $key: String!) {
    runAnalysis(flagSet: $flagSet, key: $key) {
      ...ResultFields
    }
  }
`);
